"""SQL of the periods slice: the replicated fiscal calendar."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.replicas import upsert_versioned

from .domain import Period, parse_period
from .models import fiscal_calendar


async def period_of(session: AsyncSession, text: str) -> Period:
    """Parse a period label; fiscal labels (FY2026, FY2026-Q1) use the replicated fiscal calendar."""
    if not text.strip().upper().startswith("FY"):
        return parse_period(text)  # calendar periods need no calendar: one round trip less per read
    start_month = await session.scalar(select(fiscal_calendar.c.fiscal_year_start_month)) or 1
    return parse_period(text, start_month)


async def save_fiscal_calendar(session: AsyncSession, start_month: int, version: int) -> None:
    await upsert_versioned(session, fiscal_calendar, dict(id=1, fiscal_year_start_month=start_month,
                                                          version=version), key="id")


async def fiscal_start_month(session: AsyncSession) -> int:
    """The replicated fiscal year's start month (1 until the first calendar event)."""
    return await session.scalar(select(fiscal_calendar.c.fiscal_year_start_month)) or 1
