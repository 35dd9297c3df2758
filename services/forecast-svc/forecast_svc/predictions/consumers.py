"""The predictions slice's hook on kam.opportunity.events: each opportunity's journey (first entry
of each stage, the highest stage reached, the close), in the consumer's transaction."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.consumer import batch_handler

from . import domain
from .repository import PredictionRepository
from .service import state_row


def _step(event, payload, state: dict) -> tuple | None:
    """The stage-history entry an event stands for (kind, from, to, at), as opportunity-svc logs it."""
    kind = event.type.split(".")[2]
    if kind == "created":
        return ("created", None, 1, state["created_at"])
    if kind == "stage_changed":
        return ("advanced", payload.from_stage, payload.to_stage, state["stage_entered_at"])
    if kind == "closed":
        return (payload.outcome, payload.from_stage, 8, state["stage_entered_at"])
    if kind == "reopened":
        return ("reopened", payload.from_stage, payload.to_stage, state["stage_entered_at"])
    return None


async def apply_journeys(session: AsyncSession, items: list) -> None:
    """Every opportunity event carries the full state after the change (and its time): the journey
    takes the state's fields and the step the event stands for; replays and stale events change nothing."""
    repo = PredictionRepository(session)
    rows = await repo.journeys_for_update(list({payload.opportunity.id for _, payload in items}))
    before = {i: domain.closed_signature(r) for i, r in rows.items()}
    changed = set()
    for event, payload in items:
        o = payload.opportunity
        row = rows.get(o.id)
        if row is not None and row["version"] >= o.version:
            continue
        state = state_row(o, event.time)
        row = row or domain.new_journey(state)
        step = _step(event, payload, state)
        if step:
            row = domain.apply_step(row, *step)
        rows[o.id] = domain.with_state(row, state)
        changed.add(o.id)
    if not changed:
        return
    await repo.save_journeys([rows[i] for i in changed])
    if any(domain.closed_signature(rows[i]) != before.get(i) for i in changed):
        await repo.history_changed()


apply_journey = batch_handler(apply_journeys)
HANDLERS = {f"kam.opportunity.{kind}.v1": apply_journey for kind in (
    "created", "stage_changed", "closed", "reopened", "updated", "owner_changed", "confirmation_changed",
    "assessment_recorded", "tender_updated", "team_changed")}
