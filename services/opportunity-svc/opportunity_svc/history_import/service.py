"""The import of past history: the opportunity is opened and moved through the same domain rules as
live changes, each at its historical `now`; every event it records carries that time."""
from __future__ import annotations

from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden, ValidationProblem
from kam_shared.events import utcnow

from ..accounts import service as accounts
from ..close_reasons.repository import CloseReasonRepository
from ..opportunities.domain.opportunity import Opportunity
from ..opportunities.repository import OpportunityRepository
from ..opportunities.service import NewOpportunity, present
from ..stage_model.repository import StageModelRepository
from .schemas import ImportStep, OpportunityImport


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin can import past history")


def step_kind(step: ImportStep, index: int) -> str:
    """Exactly one kind of change per step."""
    kinds = [k for k, present_ in (("stage", step.stage is not None),
                                   ("edit", step.close_date is not None or step.amount is not None),
                                   ("close", step.outcome is not None)) if present_]
    if len(kinds) != 1:
        raise ValidationProblem("a step is exactly one of: stage; close_date and/or amount; outcome with reason",
                                field=f"steps[{index}]")
    if kinds[0] == "close" and not step.reason:
        raise ValidationProblem("closing needs a reason", field=f"steps[{index}].reason")
    return kinds[0]


def check_times(body: OpportunityImport) -> None:
    """Opened and changed in the past, each step after the one before."""
    now = utcnow()
    if body.created_at > now:
        raise ValidationProblem("created_at is in the future", field="created_at")
    previous = body.created_at
    for i, step in enumerate(body.steps):
        step_kind(step, i)
        if step.at <= previous:
            raise ValidationProblem("each step must come after the previous one (and after created_at)",
                                    field=f"steps[{i}].at")
        if step.at > now:
            raise ValidationProblem("a step is in the future", field=f"steps[{i}].at")
        previous = step.at


def _apply(opp: Opportunity, step: ImportStep, kind: str, model, reasons, by) -> None:
    if kind == "stage":
        opp.move_to(step.stage, model, by, now=step.at)
    elif kind == "edit":
        fields = {k: v for k, v in (("close_date", step.close_date), ("amount", step.amount)) if v is not None}
        opp.update(fields, by, now=step.at)
    else:
        competitor = (step.competitor or "").strip() or None
        reasons.check_close(step.outcome, step.reason, competitor)
        opp.close(step.outcome, step.reason, competitor, by, now=step.at, note=step.note)


async def import_opportunity(uow, principal: Principal, checked: NewOpportunity, body: OpportunityImport) -> dict:
    session = uow.session
    if checked.fetched_account is not None:
        await accounts.remember(session, checked.fetched_account)
    model = await StageModelRepository(session).load(lock="shared")
    reasons = await CloseReasonRepository(session).load()
    by = principal.user_id
    opp = Opportunity.open(account_id=checked.account_id, name=body.name, amount=body.amount,
                           currency=checked.currency, close_date=body.close_date, owner_id=checked.owner_id,
                           now=body.created_at, model=model, by=by)
    _stamp(opp, 0, body.created_at)
    for i, step in enumerate(body.steps):
        done = len(opp.events)
        _apply(opp, step, step_kind(step, i), model, reasons, by)
        _stamp(opp, done, step.at)
    await OpportunityRepository(session).insert_new(opp)
    uow.publish(*opp.events)
    return present(opp, model)


def _stamp(opp: Opportunity, first: int, at) -> None:
    """The events recorded since `first` happened at `at`."""
    for event in opp.events[first:]:
        event.time = at
