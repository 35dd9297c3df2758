"""Why opportunities are won or lost: an admin-managed list of reasons (赢单/丢单原因).

DOMAIN: a lost opportunity records the reason and the competitor who won it, except when nobody
won (the customer made no decision, or cancelled the project). So every reason says whether it
needs a competitor; the list ships with sensible defaults, an admin edits it (If-Match on its
version, one event with the whole list), and a code once in the list is never removed, only
deactivated: closed opportunities keep pointing at it. Pure.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kam_shared.domain_errors import ValidationProblem

OUTCOMES = ("won", "lost")
LANGUAGES = ("zh-CN", "en")
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class CloseReason:
    outcome: str
    code: str
    labels: dict[str, str]
    needs_competitor: bool = False
    active: bool = True


def _r(outcome: str, code: str, zh: str, en: str, needs_competitor: bool = False) -> CloseReason:
    return CloseReason(outcome, code, {"zh-CN": zh, "en": en}, needs_competitor)


DEFAULT_REASONS: tuple[CloseReason, ...] = (
    _r("won", "best_value", "综合性价比最优", "Best overall value"),
    _r("won", "solution_fit", "方案最符合需求", "Best solution fit"),
    _r("won", "relationship", "客户关系", "Customer relationship"),
    _r("won", "service", "服务与交付能力", "Service and delivery"),
    _r("won", "other", "其他", "Other"),
    _r("lost", "price", "价格", "Price", needs_competitor=True),
    _r("lost", "solution_fit", "方案不符合需求", "Solution fit", needs_competitor=True),
    _r("lost", "relationship", "客户关系", "Customer relationship", needs_competitor=True),
    _r("lost", "service", "服务与交付能力", "Service and delivery", needs_competitor=True),
    _r("lost", "no_decision", "客户未做决定", "No decision", needs_competitor=False),
    _r("lost", "cancelled", "项目取消", "Project cancelled", needs_competitor=False),
    _r("lost", "other", "其他", "Other", needs_competitor=True),
)


@dataclass(frozen=True)
class CloseReasons:
    reasons: tuple[CloseReason, ...] = DEFAULT_REASONS
    version: int = 1

    def active_codes(self, outcome: str) -> list[str]:
        return [r.code for r in self.reasons if r.outcome == outcome and r.active]

    def check_close(self, outcome: str, code: str, competitor: str | None) -> CloseReason:
        """The reason a close names, if it may: an active code for the outcome; a competitor when
        the reason needs one (lost to someone), none when won."""
        reason = next((r for r in self.reasons if r.outcome == outcome and r.code == code and r.active), None)
        if reason is None:
            raise ValidationProblem(f"reason must be one of the active {outcome} reasons: "
                                    f"{', '.join(self.active_codes(outcome))} (GET /v1/close-reasons)",
                                    field="reason")
        if outcome == "won" and competitor:
            raise ValidationProblem("competitor names who won a lost opportunity; omit it when won",
                                    field="competitor")
        if reason.needs_competitor and not competitor:
            raise ValidationProblem(f"a lost opportunity with reason {code!r} names the competitor who won it "
                                    f"(only reasons where nobody won, e.g. no_decision or cancelled, need none)",
                                    field="competitor")
        return reason

    def revise(self, proposed: list[CloseReason]) -> CloseReasons:
        """The admin's whole new list, checked; the version moves on only if something changed."""
        seen: set[tuple[str, str]] = set()
        for i, r in enumerate(proposed):
            where = f"[{i}]"
            if r.outcome not in OUTCOMES:
                raise ValidationProblem("outcome is won or lost", field=f"{where}.outcome")
            if not CODE.match(r.code):
                raise ValidationProblem("code is 2-40 lower-case letters, digits or _, starting with a letter",
                                        field=f"{where}.code")
            if (r.outcome, r.code) in seen:
                raise ValidationProblem(f"{r.outcome} reason {r.code!r} is listed twice", field=f"{where}.code")
            seen.add((r.outcome, r.code))
            missing = [lang for lang in LANGUAGES if not (r.labels.get(lang) or "").strip()]
            if missing:
                raise ValidationProblem(f"a label in {', '.join(missing)} is required", field=f"{where}.labels")
            if r.outcome == "won" and r.needs_competitor:
                raise ValidationProblem("a won reason cannot need a competitor", field=f"{where}.needs_competitor")
        gone = [f"{r.outcome}/{r.code}" for r in self.reasons if (r.outcome, r.code) not in seen]
        if gone:
            raise ValidationProblem(f"reasons are never removed (closed opportunities name them): set active "
                                    f"false instead for {', '.join(gone)}", field="body")
        for outcome in OUTCOMES:
            if not any(r.outcome == outcome and r.active for r in proposed):
                raise ValidationProblem(f"at least one {outcome} reason must stay active", field="body")
        revised = tuple(replace(r, labels={lang: r.labels[lang].strip() for lang in r.labels}) for r in proposed)
        if revised == self.reasons:
            return self
        return CloseReasons(revised, self.version + 1)
