"""Scoring a possible duplicate against what is being created (确定客户惟一性).

100  same unified credit code: the same legal entity, whatever the name says.
 95  same normalised name, and the credit codes do not contradict it.
 50  same normalised name but two different credit codes: two entities with one name (a group and
     its subsidiary both called 天津港, say); shown, never refused.
else name similarity (trigrams, as pg_trgm) scaled to 0-90, +5 when the region is the same.
"Exact" (a create is refused with 409) means the first two.
"""
from __future__ import annotations

from dataclasses import dataclass

from .names import similarity

# Below this a name is not worth showing (pg_trgm's default is 0.3: at 0.3 a shared city prefix, 北京…,
# or a shared generic word, …technologies, already qualifies; one changed character in a
# seven-character name still scores about 0.45).
MIN_SIMILARITY = 0.4


@dataclass(frozen=True)
class Verdict:
    score: int
    exact: bool
    reasons: list[str]


def judge(probe: dict, candidate: dict, name_similarity: float | None = None) -> Verdict | None:
    """`probe` and `candidate` carry normalized_name, credit_code and region (any may be None).
    None when the candidate is not worth showing."""
    code, other_code = probe.get("credit_code"), candidate.get("credit_code")
    key, other_key = probe.get("normalized_name"), candidate.get("normalized_name")
    same_region = bool(probe.get("region")) and probe.get("region") == candidate.get("region")
    reasons = []
    if code and code == other_code:
        reasons.append("same credit code")
        if key and key == other_key:
            reasons.append("same normalised name")
        return Verdict(100, True, reasons)
    if key and key == other_key:
        if code and other_code:
            return Verdict(50, False, ["same normalised name", f"different credit codes ({code}, {other_code})"])
        return Verdict(95, True, ["same normalised name"])
    if not key or not other_key:
        return None
    sim = similarity(key, other_key) if name_similarity is None else name_similarity
    if sim < MIN_SIMILARITY:
        return None
    score = round(sim * 90)
    reasons.append(f"similar name ({sim:.2f})")
    if same_region:
        score += 5
        reasons.append("same region")
    if code and other_code:
        score = min(score, 40)
        reasons.append("different credit codes")
    return Verdict(min(score, 94), False, reasons)
