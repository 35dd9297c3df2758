"""Handlers of the periods slice: team-svc's fiscal calendar, replicated."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import CloudEvent

from .repository import save_fiscal_calendar


async def apply_fiscal_calendar(session: AsyncSession, event: CloudEvent, payload) -> None:
    """Fiscal periods are month ranges over the monthly cells: nothing to recompute, only the start."""
    calendar = payload.calendar
    await save_fiscal_calendar(session, calendar.fiscal_year_start_month, calendar.version)


HANDLERS: dict = {"kam.team.fiscal_calendar_changed.v1": apply_fiscal_calendar}
