"""The uniqueness check against the database: exact duplicates (index lookups on the credit code
and the normalised name) and scored candidates (pg_trgm on PostgreSQL, a scan elsewhere)."""
from __future__ import annotations

import uuid

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime

from .domain.duplicates import MIN_SIMILARITY, judge
from .domain.names import normalise, search_key, similarity
from .models import accounts

FALLBACK_SCAN_LIMIT = 2000
_COLUMNS = (accounts.c.id, accounts.c.name, accounts.c.normalized_name, accounts.c.credit_code, accounts.c.region,
            accounts.c.owner_id)


def query_key(q: str) -> str:
    """A search text as a normalised-name fragment; legal forms are dropped unless that is all there is."""
    return normalise(q) or search_key(q)


async def lock_keys(session: AsyncSession, profile: dict) -> None:
    """On PostgreSQL, serialise creates and renames that claim the same name or credit code (the
    normalised name cannot be a unique index: two entities may share it), until the transaction ends."""
    if session.bind.dialect.name != "postgresql":
        return  # SQLite runs one writer at a time
    keys = sorted({f"account-name:{normalise(profile['name'])}" if profile.get("name") else "",
                   f"account-code:{profile['credit_code']}" if profile.get("credit_code") else ""} - {""})
    if keys:  # one round trip; sorted, so two transactions take them in the same order
        await session.execute(select(*(func.pg_advisory_xact_lock(func.hashtext(k)) for k in keys)))


async def exact_duplicate(session: AsyncSession, profile: dict, exclude_id: uuid.UUID | None = None):
    """(row, "credit_code" | "normalized_name") of a live account this one would duplicate, else None."""
    def live(query):
        query = query.where(accounts.c.merged_into_id.is_(None))
        return query.where(accounts.c.id != exclude_id) if exclude_id else query

    code = profile.get("credit_code")
    key = normalise(profile["name"]) if profile.get("name") else None
    matches = [accounts.c.normalized_name == key] if key else []
    if code:
        matches.append(accounts.c.credit_code == code)
    if not matches:
        return None
    # One round trip: both are index lookups (PostgreSQL combines them with a BitmapOr).
    order = [case((accounts.c.credit_code == code, 0), else_=1)] if code else []  # the code match first
    rows = (await session.execute(live(select(*_COLUMNS).where(or_(*matches)))
                                  .order_by(*order, accounts.c.created_at).limit(20))).mappings().all()
    by_code = next((r for r in rows if code and r["credit_code"] == code), None)
    if by_code is not None:
        return by_code, "credit_code"
    for row in rows:
        if code and row["credit_code"] and row["credit_code"] != code:
            continue  # same name, different legal entity
        return row, "normalized_name"
    return None


async def trigram_index_available(session: AsyncSession, runtime: Runtime) -> bool:
    cached = runtime.extras.get("pg_trgm")
    if cached is None:
        cached = session.bind.dialect.name == "postgresql" and bool(await session.scalar(
            text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")))
        runtime.extras["pg_trgm"] = cached
    return cached


async def candidates(session: AsyncSession, runtime: Runtime, probe: dict, *, limit: int) -> list[dict]:
    """Possible duplicates of `probe` (name, credit_code, region), best first."""
    key = normalise(probe["name"]) if probe.get("name") else None
    target = {"normalized_name": key, "credit_code": probe.get("credit_code"), "region": probe.get("region")}
    found: dict[uuid.UUID, tuple[dict, float | None]] = {}
    live = accounts.c.merged_into_id.is_(None)
    if target["credit_code"]:
        for row in (await session.execute(select(*_COLUMNS).where(
                live, accounts.c.credit_code == target["credit_code"]))).mappings():
            found[row["id"]] = (dict(row), None)
    if key:
        if await trigram_index_available(session, runtime):
            # The GIN index answers `%` at the session's threshold; set ours for this transaction only.
            await session.execute(text(f"SET LOCAL pg_trgm.similarity_threshold = {MIN_SIMILARITY}"))
            sim = func.similarity(accounts.c.normalized_name, key).label("sim")
            query = (select(*_COLUMNS, sim).where(live, accounts.c.normalized_name.op("%")(key))
                     .order_by(sim.desc(), accounts.c.id).limit(limit * 3))
            for row in (await session.execute(query)).mappings():
                found.setdefault(row["id"], (dict(row), float(row["sim"])))
        else:
            for row in await _scan(session, key):
                found.setdefault(row["id"], (row, similarity(key, row["normalized_name"])))
    scored = []
    for row, sim in found.values():
        verdict = judge(target, row, sim)
        if verdict is not None:
            scored.append({"id": row["id"], "name": row["name"], "credit_code": row["credit_code"],
                           "region": row["region"], "owner_id": row["owner_id"], "score": verdict.score,
                           "exact": verdict.exact, "reasons": verdict.reasons})
    scored.sort(key=lambda c: (-c["score"], c["name"], str(c["id"])))
    return scored[:limit]


async def _scan(session: AsyncSession, key: str) -> list[dict]:
    """Without pg_trgm: rows sharing a two-character piece of the key (at most FALLBACK_SCAN_LIMIT),
    to be scored in Python. Fine for development databases; PostgreSQL with pg_trgm is the real path."""
    pieces = sorted({key[i:i + 2] for i in range(max(1, len(key) - 1))})
    if len(pieces) > 12:  # evenly spread, so long names still find partial matches anywhere
        pieces = pieces[:: -(-len(pieces) // 12)]
    match = or_(*(accounts.c.normalized_name.contains(p, autoescape=True) for p in pieces))
    rows = (await session.execute(select(*_COLUMNS).where(accounts.c.merged_into_id.is_(None), match)
                                  .limit(FALLBACK_SCAN_LIMIT))).mappings().all()
    return [dict(r) for r in rows]
