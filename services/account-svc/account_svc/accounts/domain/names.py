"""Account-name normalisation for the uniqueness check (确定客户惟一性).

Two names are "the same company" when they differ only in width (全角/半角), case, punctuation,
spacing or the legal-form suffix: 中国工商银行股份有限公司 = 中国工商银行, "China Merchants Bank
Co., Ltd." = "CHINA MERCHANTS BANK". The normalised form is stored (`accounts.normalized_name`,
indexed) so an exact match is an index lookup; near matches are scored by trigram similarity,
the same measure PostgreSQL's pg_trgm uses, so the SQLite fallback ranks like PostgreSQL.
"""
from __future__ import annotations

import unicodedata

# Chinese legal forms, longest first. 分公司 (a branch) is not a legal form of the same entity:
# a name ending in it is left alone, so "…北京分公司" never collapses into its head office.
CHINESE_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "总公司", "集团", "公司")
BRANCH_MARKER = "分公司"
# English legal forms as trailing words (after punctuation became spaces): "co., ltd." → "co ltd".
ENGLISH_LEGAL_FORMS = frozenset({"co", "company", "ltd", "limited", "inc", "incorporated", "llc", "corp",
                                 "corporation", "plc", "gmbh", "group"})


def _words(name: str) -> list[str]:
    """NFKC (full width → half width), case-folded, punctuation and symbols turned into spaces."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    return text.split()


def normalise(name: str) -> str:
    """The comparison key of a company name; empty only when the name has no letters or digits."""
    words = _words(name)
    while len(words) > 1 and words[-1] in ENGLISH_LEGAL_FORMS:
        words.pop()
    key = "".join(words)
    stripped = True
    while stripped:
        stripped = False
        if key.endswith(BRANCH_MARKER):
            break
        for form in CHINESE_LEGAL_FORMS:
            if key.endswith(form) and len(key) > len(form):
                key = key[: -len(form)]
                stripped = True
                break
    return key


def search_key(text: str) -> str:
    """For free-text search: the same width/case/punctuation folding, but legal forms are kept."""
    return "".join(_words(text))


def trigrams(key: str) -> set[str]:
    """pg_trgm's trigrams of one word: padded with two spaces in front and one behind."""
    padded = f"  {key} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)} if key else set()


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(): shared trigrams / all distinct trigrams of both."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)
