"""Use cases of the stage model: read it; an admin replaces it (publishes one event with the whole table)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden
from kam_shared.events import DomainEvent, FieldChange, utcnow
from kam_shared.events.opportunity import StageModelChanged, StageState
from kam_shared.http import check_if_match

from .domain import Stage, StageModel
from .repository import StageModelRepository

STAGE_MODEL_KEY = "stage-model"


async def get_stage_model(session: AsyncSession) -> StageModel:
    return await StageModelRepository(session).load()


async def put_stage_model(uow: UnitOfWork, principal: Principal, proposed: list[dict],
                          if_match: str | None) -> StageModel:
    if not principal.is_admin:
        raise Forbidden("only an admin changes the stage model")
    repo = StageModelRepository(uow.session)
    current = await repo.load(lock="exclusive")
    check_if_match(if_match, current.version)
    revised, changes = current.revise([Stage(**s) for s in proposed])
    if not changes:
        return current
    await repo.save(revised, principal.user_id, utcnow())
    # Open opportunities in a re-weighted stage take its new probability (no version bump: the
    # opportunity did not change, the model did; the one event below tells subscribers).
    for old, new in zip(current.stages[:7], revised.stages[:7], strict=True):
        if old.probability != new.probability:
            await repo.reweight_open(new.number, new.probability)
    uow.publish(DomainEvent("kam.opportunity.stage_model_changed.v1", STAGE_MODEL_KEY, revised.version,
                            StageModelChanged(version=revised.version, changed_by=principal.user_id,
                                              stages=[StageState(**s.__dict__) for s in revised.stages],
                                              changes={k: FieldChange(before=b, after=a)
                                                       for k, (b, a) in changes.items()})))
    return revised
