"""Use cases of the close reasons: read the list; an admin replaces it (one event with the whole list)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden
from kam_shared.events import DomainEvent, utcnow
from kam_shared.events.opportunity import CloseReasonsChanged, CloseReasonState
from kam_shared.http import check_if_match

from .domain import CloseReason, CloseReasons
from .repository import CloseReasonRepository

CLOSE_REASONS_KEY = "close-reasons"


async def get_close_reasons(session: AsyncSession) -> CloseReasons:
    return await CloseReasonRepository(session).load()


async def put_close_reasons(uow: UnitOfWork, principal: Principal, proposed: list[dict],
                            if_match: str | None) -> CloseReasons:
    if not principal.is_admin:
        raise Forbidden("only an admin changes the close reasons")
    repo = CloseReasonRepository(uow.session)
    current = await repo.load(for_update=True)
    check_if_match(if_match, current.version)
    revised = current.revise([CloseReason(**p) for p in proposed])
    if revised is current:
        return current
    await repo.save(revised, principal.user_id, utcnow())
    uow.publish(DomainEvent("kam.opportunity.close_reasons_changed.v1", CLOSE_REASONS_KEY, revised.version,
                            CloseReasonsChanged(version=revised.version, changed_by=principal.user_id,
                                                reasons=[CloseReasonState(**r.__dict__) for r in revised.reasons])))
    return revised
