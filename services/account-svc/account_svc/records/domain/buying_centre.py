"""The buying centre (决策人和影响者): who is who at the account and where our coverage is thin.

A key-account sale fails on the person nobody met. The gaps below are the questions a sales
manager asks at an account review: do we know the decision maker, do we reach the executive
level, does procurement know us, do we have a coach, is anyone blocking us.
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from kam_shared.domain_errors import Conflict

from ...common.vocabulary import BUYING_ROLES, DEPARTMENTS, LEVELS


def check_reports_to(contact_id: uuid.UUID, new_manager_id: uuid.UUID | None,
                     manager_chain: Iterable[uuid.UUID]) -> None:
    """`manager_chain` is the new manager followed by everyone above them in the customer's org chart."""
    if new_manager_id is None:
        return
    if new_manager_id == contact_id or contact_id in set(manager_chain):
        raise Conflict(f"contact {new_manager_id} is this contact or reports to them; the org chart would have "
                       "a cycle", field="reports_to_id")


@dataclass(frozen=True)
class Gap:
    code: str
    detail: str


def coverage_gaps(contacts: list[dict]) -> list[Gap]:
    """Gaps in our coverage of the buying centre, from the active contacts."""
    active = [c for c in contacts if c.get("active", True)]
    gaps: list[Gap] = []
    deciders = [c for c in active if c.get("buying_role") == "decision_maker"]
    if not deciders:
        gaps.append(Gap("no_decision_maker", "no decision maker known: find out who signs"))
    if not any(c.get("level") == "executive" for c in active):
        gaps.append(Gap("no_executive_contact", "no contact at executive level"))
    for c in deciders:
        if c.get("attitude") == "opponent":
            gaps.append(Gap("decision_maker_opposed", f"decision maker {c['name']} is opposed to us"))
        if c.get("relationship_strength") in (None, "none", "weak"):
            strength = c.get("relationship_strength") or "unknown"
            gaps.append(Gap("weak_decision_maker_relationship",
                            f"our relationship with decision maker {c['name']} is {strength}"))
    if not any(c.get("buying_role") == "coach" for c in active):
        gaps.append(Gap("no_coach", "nobody inside the account coaches us"))
    for c in active:
        if c.get("buying_role") == "blocker":
            gaps.append(Gap("blocker", f"{c['name']} is a known blocker"))
    covered = {c.get("department") for c in active} | (
        {"procurement"} if any(c.get("buying_role") == "procurement" for c in active) else set())
    for department in DEPARTMENTS:
        if department not in covered:
            gaps.append(Gap(f"no_{department}_contact", f"no contact in the {department} department"))
    return gaps


def counts(contacts: list[dict]) -> dict[str, dict[str, int]]:
    active = [c for c in contacts if c.get("active", True)]
    return {
        "by_buying_role": {r: n for r in BUYING_ROLES if (n := Counter(c.get("buying_role") for c in active)[r])},
        "by_department": {d: n for d in DEPARTMENTS if (n := Counter(c.get("department") for c in active)[d])},
        "by_level": {v: n for v in LEVELS if (n := Counter(c.get("level") for c in active)[v])},
    }


def org_chart(contacts: list[dict]) -> list[dict]:
    """The customer's org chart: roots are contacts reporting to nobody we know (or to someone who left)."""
    by_id = {c["id"]: c for c in contacts if c.get("active", True)}
    children: dict[uuid.UUID, list[dict]] = {}
    roots = []
    for c in by_id.values():
        manager = c.get("reports_to_id")
        if manager in by_id and manager != c["id"]:
            children.setdefault(manager, []).append(c)
        else:
            roots.append(c)

    def nest(c: dict, seen: frozenset) -> dict:
        kids = sorted(children.get(c["id"], []), key=lambda k: (k["name"], str(k["id"])))
        return {"id": c["id"], "name": c["name"], "title": c.get("title"), "buying_role": c.get("buying_role"),
                "level": c.get("level"), "reports": [nest(k, seen | {k["id"]}) for k in kids if k["id"] not in seen]}

    return [nest(r, frozenset({r["id"]})) for r in sorted(roots, key=lambda k: (k["name"], str(k["id"])))]
