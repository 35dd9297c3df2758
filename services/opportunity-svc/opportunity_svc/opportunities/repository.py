"""All SQL of the opportunity aggregate: rows ↔ the aggregate, load, insert, save under the version guard,
its stage history, team index and assessments."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, delete, func, insert, select, update

from kam_shared.domain_errors import PreconditionFailed
from kam_shared.events.opportunity import TenderState
from kam_shared.money import from_cents, to_cents
from kam_shared.repository import Repository

from ..common.models import plumbing
from .domain.lines import ProductLine
from .domain.opportunity import Opportunity, TeamMember
from .models import assessments, opportunities, stage_history, team_members

# Statements built once: the hot paths (create, stage change) only bind values.
_LOAD = select(opportunities).where(opportunities.c.id == bindparam("opp_id"))
_LOAD_FOR_UPDATE = _LOAD.with_for_update()
_INSERT = insert(opportunities)
_UPDATE_IF_VERSION = update(opportunities).where(opportunities.c.id == bindparam("b_id"),
                                                 opportunities.c.version == bindparam("b_expected_version"))
_INSERT_HISTORY = insert(stage_history)


def _cents(value) -> int | None:
    return None if value is None else to_cents(value)


def _money(cents) -> object:
    return None if cents is None else from_cents(cents)


def lines_to_json(lines: tuple[ProductLine, ...]) -> list[dict]:
    return [dict(product=line.product, product_code=line.product_code, family=line.family,
                 description=line.description, quantity=line.quantity,
                 expected_price_cents=_cents(line.expected_price), quoted_price_cents=_cents(line.quoted_price))
            for line in lines]


def lines_from_json(data) -> tuple[ProductLine, ...]:
    return tuple(ProductLine(product=d["product"], product_code=d.get("product_code"), family=d.get("family"),
                             description=d.get("description"), quantity=d["quantity"],
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
        close_note=row["close_note"], lost_to_competitor=row["lost_to_competitor"], version=row["version"],
        updated_at=row["updated_at"],
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
        status=opp.status, close_reason=opp.close_reason, close_note=opp.close_note,
        lost_to_competitor=opp.lost_to_competitor,
        version=opp.version, updated_at=opp.updated_at, stage_entered_at=opp.stage_entered_at,
        confirmed=opp.confirmed, confirmed_at=opp.confirmed_at, confirmed_by=opp.confirmed_by,
        forecast_category=opp.forecast_category, amount_from_lines=opp.amount_from_lines,
        lines=lines_to_json(opp.lines), team=team_to_json(opp.team),
        tender=opp.tender.model_dump(mode="json") if opp.tender is not None else None,
        assessment_total=opp.assessment_total, high_value=opp.high_value)


class OpportunityRepository(Repository):
    # ---------------------------------------------------------------- the aggregate
    async def load_row(self, opp_id: uuid.UUID, *, for_update: bool):
        # FOR UPDATE serialises concurrent changes to one opportunity (SQLite serialises writers anyway).
        query = _LOAD_FOR_UPDATE if for_update and self.postgres else _LOAD
        return (await self.session.execute(query, {"opp_id": opp_id})).mappings().first()

    async def insert_new(self, opp: Opportunity) -> None:
        await self.session.execute(_INSERT, dict(id=opp.id, created_at=opp.created_at, **columns(opp)))
        await self._write_stage_log(opp)

    async def save(self, opp: Opportunity, expected_version: int, *, team_changed: bool = False) -> None:
        """Write the aggregate if nobody changed it since it was read; then its stage-history entries."""
        result = await self.session.execute(_UPDATE_IF_VERSION,
                                            dict(b_id=opp.id, b_expected_version=expected_version, **columns(opp)))
        if result.rowcount != 1:  # someone else changed it between our read and write
            raise PreconditionFailed("opportunity changed concurrently; reload and retry")
        await self._write_stage_log(opp)
        if team_changed:
            await self.session.execute(delete(team_members).where(team_members.c.opportunity_id == opp.id))
            if opp.team:
                await self.session.execute(insert(team_members), [
                    dict(opportunity_id=opp.id, user_id=m.user_id, role=m.role) for m in opp.team])

    async def _write_stage_log(self, opp: Opportunity) -> None:
        if opp.stage_log:
            rows = [dict(opportunity_id=opp.id, kind=e.kind, from_stage=e.from_stage, to_stage=e.to_stage,
                         status=e.status, changed_by=e.by, changed_at=e.at, reason=e.reason) for e in opp.stage_log]
            await self.session.execute(_INSERT_HISTORY, rows[0] if len(rows) == 1 else rows)
            opp.stage_log.clear()

    async def of_account_for_update(self, account_id: uuid.UUID) -> list[Opportunity]:
        """Every opportunity of the account (open or closed), locked, in id order."""
        query = select(opportunities).where(opportunities.c.account_id == account_id).order_by(opportunities.c.id)
        rows = (await self.session.execute(self.for_update(query))).mappings().all()
        return [to_domain(row) for row in rows]

    # ---------------------------------------------------------------- sales team
    async def is_team_member(self, opp_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        return await self.session.scalar(select(func.count()).select_from(team_members).where(
            team_members.c.opportunity_id == opp_id, team_members.c.user_id == user_id)) > 0

    async def user_active(self, user_id: uuid.UUID) -> bool | None:
        """From the user replica: True, False (deactivated) or None (unknown)."""
        users = plumbing.user_replica
        return await self.session.scalar(select(users.c.active).where(users.c.id == user_id))

    async def user_names(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        users = plumbing.user_replica
        return dict((await self.session.execute(select(users.c.id, users.c.name).where(users.c.id.in_(ids)))).all())

    # ---------------------------------------------------------------- stage history
    async def closed_from_stage(self, opp_id: uuid.UUID) -> int | None:
        """The stage the opportunity was last closed from."""
        return await self.session.scalar(select(stage_history.c.from_stage).where(
            stage_history.c.opportunity_id == opp_id, stage_history.c.kind.in_(("won", "lost")))
            .order_by(stage_history.c.id.desc()).limit(1))

    async def history(self, opp_id: uuid.UUID) -> list[dict]:
        return [dict(r) for r in (await self.session.execute(
            select(stage_history).where(stage_history.c.opportunity_id == opp_id).order_by(stage_history.c.id)
        )).mappings().all()]

    # ---------------------------------------------------------------- assessments
    async def assessment_count(self, opp_id: uuid.UUID) -> int:
        return await self.session.scalar(select(func.count()).select_from(assessments).where(
            assessments.c.opportunity_id == opp_id))

    async def insert_assessment(self, row: dict) -> None:
        await self.session.execute(insert(assessments).values(**row))

    async def assessments(self, opp_id: uuid.UUID) -> list:
        return (await self.session.execute(select(assessments).where(assessments.c.opportunity_id == opp_id)
                                           .order_by(assessments.c.number))).mappings().all()
