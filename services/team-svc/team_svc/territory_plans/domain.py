"""Territory plans and rebalancing: the plan's status flow, who may decide it, and the rebalance
proposal arithmetic (pure: no database, no clock)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from kam_shared.domain_errors import Conflict, Forbidden, ValidationProblem

EDITABLE = ("draft", "rejected")
TRANSITIONS = {"submit": (("draft", "rejected"), "submitted"), "approve": (("submitted",), "approved"),
               "reject": (("submitted",), "rejected")}


def next_status(status: str, action: str) -> str:
    allowed, to = TRANSITIONS[action]
    if status not in allowed:
        raise Conflict(f"a {status} plan cannot be {'submitted' if action == 'submit' else action + 'd'} "
                       f"(only a plan that is {' or '.join(allowed)})", field="status")
    return to


def check_editable(status: str) -> None:
    if status not in EDITABLE:
        raise Conflict(f"a {status} plan cannot be changed (only a draft or a rejected one)", field="status")


def check_decider(*, decider: uuid.UUID, owner: uuid.UUID, decider_is_above: bool, decider_is_admin: bool) -> None:
    """Approval like quotas': someone above the territory's manager, or an admin; never the manager."""
    if decider == owner:
        raise Forbidden("the territory's own manager cannot decide its plan; someone above them decides")
    if not (decider_is_above or decider_is_admin):
        raise Forbidden("only someone above the territory's manager, or an admin, decides its plan")


def check_plan_content(body: dict) -> None:
    capacity = body.get("capacity_accounts")
    if capacity is not None and capacity < 0:
        raise ValidationProblem("capacity_accounts cannot be negative", field="capacity_accounts")
    users = [c["user_id"] for c in body.get("coverage") or []]
    if len(users) != len(set(users)):
        raise ValidationProblem("a person appears twice in coverage", field="coverage")
    targets = body.get("target_account_ids") or []
    if len(targets) != len(set(targets)):
        raise ValidationProblem("an account appears twice in target_account_ids", field="target_account_ids")


@dataclass(frozen=True)
class Load:
    territory_id: uuid.UUID
    accounts: list[uuid.UUID]  # the accounts in the territory now, the ones to move first at the end
    capacity: int | None  # the plan's capacity for the period; None: the territories' mean


@dataclass(frozen=True)
class Move:
    account_id: uuid.UUID
    from_territory_id: uuid.UUID
    to_territory_id: uuid.UUID


def targets(loads: list[Load]) -> dict[uuid.UUID, int]:
    """How many accounts each territory should hold: its plan's capacity; the territories without a
    plan share evenly what the planned ones cannot take (all accounts less the planned capacity)."""
    planned = {ld.territory_id: ld.capacity for ld in loads if ld.capacity is not None}
    unplanned = sorted((ld for ld in loads if ld.capacity is None), key=lambda x: str(x.territory_id))
    rest = max(0, sum(len(ld.accounts) for ld in loads) - sum(planned.values()))
    out = dict(planned)
    for index, ld in enumerate(unplanned):
        base, extra = divmod(rest, len(unplanned))
        out[ld.territory_id] = base + (1 if index < extra else 0)
    return out


def propose(loads: list[Load]) -> list[Move]:
    """Moves from territories over their target to those under it, biggest excess and deficit first,
    until no territory is over while another is under. Each territory gives up its last-listed accounts."""
    goal = targets(loads)
    spare = {ld.territory_id: list(ld.accounts) for ld in loads}
    over = sorted((ld for ld in loads if len(ld.accounts) > goal[ld.territory_id]),
                  key=lambda ld: (goal[ld.territory_id] - len(ld.accounts), str(ld.territory_id)))
    room = {ld.territory_id: goal[ld.territory_id] - len(ld.accounts) for ld in loads
            if len(ld.accounts) < goal[ld.territory_id]}
    moves: list[Move] = []
    for ld in over:
        excess = len(spare[ld.territory_id]) - goal[ld.territory_id]
        while excess > 0 and room:
            to = max(room, key=lambda t: (room[t], str(t)))
            moves.append(Move(spare[ld.territory_id].pop(), ld.territory_id, to))
            excess -= 1
            room[to] -= 1
            if room[to] == 0:
                del room[to]
    return moves
