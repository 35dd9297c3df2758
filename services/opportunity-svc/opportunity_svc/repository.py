"""Rows ↔ the opportunity aggregate and the stage model: load, insert, save under the version guard."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.errors import PreconditionFailed
from kam_shared.events.opportunity import TenderState
from kam_shared.money import from_cents, to_cents

from .domain.funnel import Stage, StageModel
from .domain.lines import ProductLine
from .domain.opportunity import Opportunity, TeamMember
from .models import opportunities, stage_history, stage_model, team_members

# Writers of a stage probability (create, stage change, reopen) hold this PostgreSQL advisory lock
# shared; an admin's stage-model change holds it exclusive. So an opportunity can never enter a
# stage with the old probability while the model change re-weights that stage's open opportunities.
STAGE_MODEL_LOCK = 0x6B616D_5354  # "kam" "ST"


# Statements built once: the hot paths (create, stage change) only bind values.
_LOAD = select(opportunities).where(opportunities.c.id == bindparam("opp_id"))
_LOAD_FOR_UPDATE = _LOAD.with_for_update()
_INSERT = insert(opportunities)
_UPDATE_IF_VERSION = update(opportunities).where(opportunities.c.id == bindparam("b_id"),
                                                 opportunities.c.version == bindparam("b_expected_version"))
_INSERT_HISTORY = insert(stage_history)
_STAGE_MODEL = select(stage_model).order_by(stage_model.c.number)
_STAGE_MODEL_SHARED = _STAGE_MODEL.add_columns(func.pg_advisory_xact_lock_shared(STAGE_MODEL_LOCK).label("_lock"))


def _cents(value) -> int | None:
    return None if value is None else to_cents(value)


def _money(cents) -> object:
    return None if cents is None else from_cents(cents)


def lines_to_json(lines: tuple[ProductLine, ...]) -> list[dict]:
    return [dict(product=line.product, description=line.description, quantity=line.quantity,
                 expected_price_cents=_cents(line.expected_price), quoted_price_cents=_cents(line.quoted_price))
            for line in lines]


def lines_from_json(data) -> tuple[ProductLine, ...]:
    return tuple(ProductLine(product=d["product"], description=d.get("description"), quantity=d["quantity"],
                             expected_price=_money(d.get("expected_price_cents")),
                             quoted_price=_money(d.get("quoted_price_cents"))) for d in data or [])


def team_to_json(team: tuple[TeamMember, ...]) -> list[dict]:
    return [dict(user_id=str(m.user_id), role=m.role, added_at=m.added_at.isoformat()) for m in team]


def team_from_json(data) -> tuple[TeamMember, ...]:
    return tuple(TeamMember(uuid.UUID(d["user_id"]), d["role"], dt.datetime.fromisoformat(d["added_at"]))
                 for d in data or [])


def to_domain(row) -> Opportunity:
    return Opportunity(
        id=row["id"], account_id=row["account_id"], name=row["name"], amount=from_cents(row["amount_cents"]),
        currency=row["currency"], close_date=row["close_date"], owner_id=row["owner_id"], stage=row["stage"],
        probability=row["probability"], status=row["status"], close_reason=row["close_reason"],
        lost_to_competitor=row["lost_to_competitor"], version=row["version"], updated_at=row["updated_at"],
        created_at=row["created_at"], stage_entered_at=row["stage_entered_at"], confirmed=row["confirmed"],
        confirmed_at=row["confirmed_at"], confirmed_by=row["confirmed_by"],
        forecast_category=row["forecast_category"], amount_from_lines=row["amount_from_lines"],
        lines=lines_from_json(row["lines"]), team=team_from_json(row["team"]),
        assessment_total=row["assessment_total"], high_value=row["high_value"],
        tender=TenderState.model_validate(row["tender"]) if row["tender"] is not None else None)


def columns(opp: Opportunity) -> dict:
    return dict(
        account_id=opp.account_id, name=opp.name, amount_cents=to_cents(opp.amount), currency=opp.currency,
        close_date=opp.close_date, owner_id=opp.owner_id, stage=opp.stage, probability=opp.probability,
        status=opp.status, close_reason=opp.close_reason, lost_to_competitor=opp.lost_to_competitor,
        version=opp.version, updated_at=opp.updated_at, stage_entered_at=opp.stage_entered_at,
        confirmed=opp.confirmed, confirmed_at=opp.confirmed_at, confirmed_by=opp.confirmed_by,
        forecast_category=opp.forecast_category, amount_from_lines=opp.amount_from_lines,
        lines=lines_to_json(opp.lines), team=team_to_json(opp.team),
        tender=opp.tender.model_dump(mode="json") if opp.tender is not None else None,
        assessment_total=opp.assessment_total, high_value=opp.high_value)


async def load_row(session: AsyncSession, opp_id: uuid.UUID, *, for_update: bool):
    # FOR UPDATE serialises concurrent changes to one opportunity (SQLite serialises writers anyway).
    query = _LOAD_FOR_UPDATE if for_update and session.bind.dialect.name == "postgresql" else _LOAD
    return (await session.execute(query, {"opp_id": opp_id})).mappings().first()


async def load_stage_model(session: AsyncSession, *, lock: str | None = None) -> StageModel:
    """The model in force. lock="shared" for writers of a probability, "exclusive" for the admin's change
    (PostgreSQL; SQLite serialises writers anyway)."""
    query = _STAGE_MODEL
    if lock and session.bind.dialect.name == "postgresql":
        if lock == "exclusive":
            await session.execute(select(func.pg_advisory_xact_lock(STAGE_MODEL_LOCK)))
        else:
            query = _STAGE_MODEL_SHARED  # the lock in the same round trip as the read
    rows = (await session.execute(query)).mappings().all()
    stages = tuple(Stage(r["number"], r["name"], r["description"], r["probability"]) for r in rows)
    return StageModel(stages, rows[0]["version"])


async def save_stage_model(session: AsyncSession, model: StageModel, by: uuid.UUID | None, at: dt.datetime) -> None:
    for stage in model.stages:
        await session.execute(update(stage_model).where(stage_model.c.number == stage.number).values(
            name=stage.name, description=stage.description, probability=stage.probability, version=model.version,
            updated_at=at, updated_by=by))


async def insert_new(session: AsyncSession, opp: Opportunity) -> None:
    await session.execute(_INSERT, dict(id=opp.id, created_at=opp.created_at, **columns(opp)))
    await _write_stage_log(session, opp)


async def save(session: AsyncSession, opp: Opportunity, expected_version: int, *, team_changed: bool = False) -> None:
    """Write the aggregate if nobody changed it since it was read; then its stage-history entries."""
    result = await session.execute(_UPDATE_IF_VERSION,
                                   dict(b_id=opp.id, b_expected_version=expected_version, **columns(opp)))
    if result.rowcount != 1:  # someone else changed it between our read and write
        raise PreconditionFailed("opportunity changed concurrently; reload and retry")
    await _write_stage_log(session, opp)
    if team_changed:
        await session.execute(delete(team_members).where(team_members.c.opportunity_id == opp.id))
        if opp.team:
            await session.execute(insert(team_members), [dict(opportunity_id=opp.id, user_id=m.user_id, role=m.role)
                                                         for m in opp.team])


async def _write_stage_log(session: AsyncSession, opp: Opportunity) -> None:
    if opp.stage_log:
        rows = [dict(opportunity_id=opp.id, kind=e.kind, from_stage=e.from_stage, to_stage=e.to_stage,
                     status=e.status, changed_by=e.by, changed_at=e.at, reason=e.reason) for e in opp.stage_log]
        await session.execute(_INSERT_HISTORY, rows[0] if len(rows) == 1 else rows)
        opp.stage_log.clear()
