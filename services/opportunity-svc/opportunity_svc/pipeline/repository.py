"""All SQL of the pipeline queries: the caller's visible scope narrowed by the filters, paged lists and
the per-stage sums."""
from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Select, and_, case, false, func, or_, select, true

from kam_shared.domain_errors import ValidationProblem
from kam_shared.repository import Repository

from ..accounts.models import account_team_replica
from ..opportunities.models import opportunities, team_members
from ..stage_model.domain import STAGE_NUMBERS

c = opportunities.c


def _check_filters(stages, close_date_from, close_date_to) -> None:
    if stages:
        bad = sorted(set(stages) - set(STAGE_NUMBERS))
        if bad:
            raise ValidationProblem(f"stage {bad[0]} is not in the stage model (1..8)", field="stage")
    if close_date_from is not None and close_date_to is not None and close_date_from > close_date_to:
        raise ValidationProblem("close_date_from is after close_date_to", field="close_date_from")


def _narrowed(query: Select, *, owner_id=None, account_id=None, stages=None, status=None, close_date_from=None,
              close_date_to=None, high_value=None, confirmed=None, forecast_category=None) -> Select:
    _check_filters(stages, close_date_from, close_date_to)
    for column, value in (("owner_id", owner_id), ("account_id", account_id), ("status", status),
                          ("forecast_category", forecast_category), ("confirmed", confirmed)):
        if value is not None:
            query = query.where(c[column] == value)
    if stages:
        query = query.where(c.stage.in_(stages))
    if close_date_from is not None:
        query = query.where(c.close_date >= close_date_from)
    if close_date_to is not None:
        query = query.where(c.close_date <= close_date_to)
    if high_value is not None:
        query = query.where(c.high_value == true()) if high_value else \
            query.where(or_(c.high_value.is_(None), c.high_value == false()))
    return query


def _scoped(query: Select, *, owners: set[uuid.UUID] | None, user_id: uuid.UUID, subtree: set[uuid.UUID] | None,
            **filters) -> Select:
    """The caller's visible scope (`owners`: None = all; else theirs, or on the sales team of `user_id`,
    or of an account whose account team `user_id` is on), within `subtree` when given, narrowed by the filters."""
    if owners is not None:
        on_team = select(team_members.c.opportunity_id).where(team_members.c.user_id == user_id)
        on_account_team = select(account_team_replica.c.account_id).where(account_team_replica.c.user_id == user_id)
        query = query.where(or_(c.owner_id.in_(owners), c.id.in_(on_team), c.account_id.in_(on_account_team)))
    if subtree is not None:
        query = query.where(c.owner_id.in_(subtree))
    return _narrowed(query, **filters)


class PipelineRepository(Repository):
    """`scope` everywhere: owners, user_id, subtree and the list's filters (see `_scoped`)."""

    async def page(self, *, limit: int, cursor: str | None, present: Callable, **scope) -> tuple[list, str | None]:
        """Opportunity rows in id order, one page, each presented by `present`."""
        return await self.paginate(_scoped(select(opportunities), **scope), keys=[c.id], limit=limit, cursor=cursor,
                                   present=present)

    async def sums(self, **scope) -> list:
        """Per status, stage and currency: count, Σ cents, Σ cents × probability, and the open high-value
        and confirmed counts."""
        open_ = c.status == "open"
        query = select(c.status, c.stage, c.currency, func.count().label("n"),
                       func.sum(c.amount_cents).label("cents"),
                       func.sum(c.amount_cents * c.probability).label("weighted_x100"),
                       func.sum(case((and_(open_, c.high_value == true()), 1), else_=0)).label("high_value"),
                       func.sum(case((and_(open_, c.confirmed == true()), 1), else_=0)).label("confirmed"),
                       ).group_by(c.status, c.stage, c.currency)
        return (await self.session.execute(_scoped(query, **scope))).all()
