"""All SQL of the stage model: read it (with the advisory lock that orders it against probability writers),
save an admin's revision, and let the open opportunities of a re-weighted stage follow it."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select, update

from kam_shared.repository import Repository

from ..opportunities.models import opportunities
from .domain import Stage, StageModel
from .models import stage_model

# Writers of a stage probability (create, stage change, reopen) hold this PostgreSQL advisory lock
# shared; an admin's stage-model change holds it exclusive. So an opportunity can never enter a
# stage with the old probability while the model change re-weights that stage's open opportunities.
STAGE_MODEL_LOCK = 0x6B616D_5354  # "kam" "ST"

# Statements built once: the hot paths (create, stage change) only bind values.
_STAGE_MODEL = select(stage_model).order_by(stage_model.c.number)
_STAGE_MODEL_SHARED = _STAGE_MODEL.add_columns(func.pg_advisory_xact_lock_shared(STAGE_MODEL_LOCK).label("_lock"))


class StageModelRepository(Repository):
    async def load(self, *, lock: str | None = None) -> StageModel:
        """The model in force. lock="shared" for writers of a probability, "exclusive" for the admin's change
        (PostgreSQL; SQLite serialises writers anyway)."""
        query = _STAGE_MODEL
        if lock and self.postgres:
            if lock == "exclusive":
                await self.session.execute(select(func.pg_advisory_xact_lock(STAGE_MODEL_LOCK)))
            else:
                query = _STAGE_MODEL_SHARED  # the lock in the same round trip as the read
        rows = (await self.session.execute(query)).mappings().all()
        stages = tuple(Stage(r["number"], r["name"], r["description"], r["probability"]) for r in rows)
        return StageModel(stages, rows[0]["version"])

    async def save(self, model: StageModel, by: uuid.UUID | None, at: dt.datetime) -> None:
        for stage in model.stages:
            await self.session.execute(update(stage_model).where(stage_model.c.number == stage.number).values(
                name=stage.name, description=stage.description, probability=stage.probability,
                version=model.version, updated_at=at, updated_by=by))

    async def reweight_open(self, stage: int, probability: int) -> None:
        """The open opportunities in `stage` take its new probability (no version bump: the model changed,
        not the opportunity; the stage_model_changed event tells subscribers)."""
        await self.session.execute(update(opportunities).where(
            opportunities.c.status == "open", opportunities.c.stage == stage).values(probability=probability))
