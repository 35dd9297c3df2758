"""All SQL of the accounts slice: account rows (read, lock, insert, versioned update), the listing
and the snapshot, the hierarchy (recursive CTEs), the owner history, and the uniqueness check's
queries — exact duplicates (index lookups on the credit code and the normalised name) and
candidate rows for the duplicate search (pg_trgm on PostgreSQL, a scan elsewhere)."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import case, delete, func, insert, literal, or_, select, text, update

from kam_shared.money import from_cents, to_cents
from kam_shared.repository import Repository

from .domain.accounts import Account
from .domain.duplicates import MIN_SIMILARITY
from .domain.names import normalise
from .models import account_team, accounts, owner_history

MAX_DEPTH = 50  # a hierarchy deeper than this is a data error; recursive queries stop there
FALLBACK_SCAN_LIMIT = 2000
_COLUMNS = (accounts.c.id, accounts.c.name, accounts.c.normalized_name, accounts.c.credit_code, accounts.c.region,
            accounts.c.owner_id)
_DOMAIN_COLUMNS = ("name", "normalized_name", "credit_code", "industry", "region", "owner_id", "status", "type",
                   "tier", "parent_id", "centralised_purchasing", "employees", "currency", "installed_base",
                   "business_situation", "website", "phones", "addresses", "strategic_flags", "merged_into_id",
                   "version")
MONEY_COLUMNS = ("annual_revenue", "annual_purchase_volume")


# --- mapping ------------------------------------------------------------------------------------

def _pct_from_bp(bp: int | None) -> Decimal | None:
    return None if bp is None else (Decimal(bp) / 100).quantize(Decimal("0.01"))


def _bp_from_pct(pct: Decimal | None) -> int | None:
    return None if pct is None else int(Decimal(pct).quantize(Decimal("0.01")) * 100)


def present(row) -> dict:
    """A stored row as the API and the domain see it (money as Decimal, margin as %)."""
    out = dict(row)
    for name in MONEY_COLUMNS:
        cents = out.pop(f"{name}_cents")
        out[name] = None if cents is None else from_cents(cents)
    out["gross_margin_pct"] = _pct_from_bp(out.pop("gross_margin_bp"))
    return out


def to_domain(row) -> Account:
    return Account.from_row(present(row))


def columns(account: Account) -> dict:
    """The stored columns of an account (money in cents, the margin in basis points)."""
    values = {name: getattr(account, name) for name in _DOMAIN_COLUMNS}
    for name in MONEY_COLUMNS:
        amount = getattr(account, name)
        values[f"{name}_cents"] = None if amount is None else to_cents(amount)
    values["gross_margin_bp"] = _bp_from_pct(account.gross_margin_pct)
    values["phones"] = [dict(p) for p in account.phones]
    values["addresses"] = [dict(a) for a in account.addresses]
    return values


class AccountRepository(Repository):
    # --- rows -----------------------------------------------------------------------------------

    async def row(self, account_id: uuid.UUID, *, lock: bool = False):
        query = select(accounts).where(accounts.c.id == account_id)
        if lock:
            query = self.for_update(query)  # serialise concurrent changes to one account
        return (await self.session.execute(query)).mappings().first()

    async def row_seen_by(self, account_id: uuid.UUID, visibility, principal) -> tuple[dict | None, bool, bool]:
        """(the row, whether the caller sees it by the hierarchy (`Visibility.can_see`), whether they
        are on its account team) in one statement: the questions `service.access` asks one query
        after another, asked with the read (a GET's one round trip instead of two or more)."""
        owner = select(accounts.c.owner_id).where(accounts.c.id == account_id).scalar_subquery()
        member = select(account_team.c.user_id).where(account_team.c.account_id == account_id,
                                                      account_team.c.user_id == principal.user_id).exists()
        row = (await self.session.execute(select(
            accounts, visibility.can_see_clause(principal, owner).label("_can_see"), member.label("_on_team"))
            .where(accounts.c.id == account_id))).mappings().first()
        if row is None:
            return None, False, False
        values = dict(row)
        return values, bool(values.pop("_can_see")), bool(values.pop("_on_team"))

    async def rows(self, ids: Iterable[uuid.UUID]) -> list:
        return list((await self.session.execute(select(accounts).where(accounts.c.id.in_(list(ids)))))
                    .mappings().all())

    async def add(self, account: Account, *, created_by: uuid.UUID | None, now: dt.datetime) -> dict:
        """Insert a new account; returns the stored values (IntegrityError on a taken credit code)."""
        values = {"id": account.id, "created_by": created_by, "created_at": now, "updated_at": now,
                  **columns(account)}
        await self.session.execute(insert(accounts).values(**values))
        return values

    async def save(self, account: Account, expected_version: int, *, now: dt.datetime) -> bool:
        """Write the account if it is still at `expected_version`; False if someone changed it since."""
        result = await self.session.execute(update(accounts).where(
            accounts.c.id == account.id, accounts.c.version == expected_version).values(
            updated_at=now, **columns(account)))
        return result.rowcount == 1

    async def children(self, parent_id: uuid.UUID) -> list:
        """Live accounts directly below `parent_id`."""
        return list((await self.session.execute(select(accounts).where(
            accounts.c.parent_id == parent_id, accounts.c.merged_into_id.is_(None)))).mappings().all())

    async def tombstones_of(self, account_id: uuid.UUID) -> list:
        """Accounts merged into `account_id` earlier."""
        return list((await self.session.execute(select(accounts).where(
            accounts.c.merged_into_id == account_id))).mappings().all())

    # --- lists ----------------------------------------------------------------------------------

    async def page(self, *, limit: int, cursor: str | None, filters: dict, name_key: str | None,
                   include_merged: bool, owners: set | None, member: uuid.UUID | None = None,
                   health: str | None = None) -> tuple[list[dict], str | None]:
        """One page in id order; with `health`, that band only, worst score first (ix_accounts_health)."""
        query = select(accounts)
        for column, value in filters.items():
            if value is not None:
                query = query.where(accounts.c[column] == value)
        if not include_merged:
            query = query.where(accounts.c.merged_into_id.is_(None))
        if name_key is not None:
            query = query.where(accounts.c.normalized_name.contains(name_key, autoescape=True))
        if owners is not None:  # the owner's line, or on the account team
            on_team = select(account_team.c.account_id).where(account_team.c.user_id == member)
            query = query.where(or_(accounts.c.owner_id.in_(owners), accounts.c.id.in_(on_team)))
        keys = [accounts.c.id]
        if health is not None:
            query = query.where(accounts.c.health_band == health)
            keys = [accounts.c.health_score, accounts.c.id]
        return await self.paginate(query, keys=keys, limit=limit, cursor=cursor, present=present)

    # --- the account team -----------------------------------------------------------------------

    async def is_team_member(self, account_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        return await self.session.scalar(select(account_team.c.user_id).where(
            account_team.c.account_id == account_id, account_team.c.user_id == user_id)) is not None

    async def team_account_ids(self, user_id: uuid.UUID) -> set[uuid.UUID]:
        return set((await self.session.scalars(select(account_team.c.account_id)
                                               .where(account_team.c.user_id == user_id))).all())

    async def team(self, account_id: uuid.UUID) -> list[dict]:
        rows = (await self.session.execute(select(account_team).where(account_team.c.account_id == account_id)
                                           .order_by(account_team.c.added_at, account_team.c.user_id))).mappings()
        return [dict(r) for r in rows]

    async def replace_team(self, account_id: uuid.UUID, members: list[dict]) -> None:
        await self.session.execute(delete(account_team).where(account_team.c.account_id == account_id))
        if members:
            await self.session.execute(insert(account_team), [dict(account_id=account_id, **m) for m in members])

    async def snapshot_page(self, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        """Every account, tombstones included, ordered by id."""
        return await self.paginate(select(accounts), keys=[accounts.c.id], limit=limit, cursor=cursor,
                                   present=present)

    # --- hierarchy ------------------------------------------------------------------------------

    async def ancestor_chain(self, start: uuid.UUID) -> list[uuid.UUID]:
        """`start` followed by its parent, grandparent, ... up to the top (recursive CTE)."""
        chain = select(accounts.c.id, accounts.c.parent_id, literal(0).label("depth")) \
            .where(accounts.c.id == start).cte("chain", recursive=True)
        chain = chain.union_all(
            select(accounts.c.id, accounts.c.parent_id, (chain.c.depth + 1).label("depth"))
            .where(accounts.c.id == chain.c.parent_id, chain.c.depth < MAX_DEPTH))
        rows = (await self.session.execute(select(chain.c.id, chain.c.depth).order_by(chain.c.depth))).all()
        return [r.id for r in rows]

    async def subtree(self, root_id: uuid.UUID) -> list:
        """The root and every live account below it (recursive CTE)."""
        down = select(accounts.c.id, literal(0).label("depth")).where(accounts.c.id == root_id) \
            .cte("down", recursive=True)
        down = down.union_all(select(accounts.c.id, (down.c.depth + 1).label("depth"))
                              .where(accounts.c.parent_id == down.c.id, accounts.c.merged_into_id.is_(None),
                                     down.c.depth < MAX_DEPTH))
        return list((await self.session.execute(select(accounts).where(accounts.c.id.in_(select(down.c.id)))))
                    .mappings().all())

    # --- owner history --------------------------------------------------------------------------

    async def add_history(self, account: Account, from_owner: uuid.UUID | None, rule: str, reason: str | None,
                          by: uuid.UUID | None, at: dt.datetime) -> None:
        await self.session.execute(insert(owner_history).values(
            account_id=account.id, from_owner_id=from_owner, to_owner_id=account.owner_id, rule=rule,
            reason=reason, changed_by=by, changed_at=at))

    async def history(self, account_id: uuid.UUID) -> list[dict]:
        rows = (await self.session.execute(select(owner_history).where(owner_history.c.account_id == account_id)
                                           .order_by(owner_history.c.id))).mappings().all()
        return [dict(r) for r in rows]

    # --- uniqueness -----------------------------------------------------------------------------

    async def lock_keys(self, profile: dict) -> None:
        """On PostgreSQL, serialise creates and renames that claim the same name or credit code (the
        normalised name cannot be a unique index: two entities may share it), until the transaction ends."""
        if not self.postgres:
            return  # SQLite runs one writer at a time
        keys = sorted({f"account-name:{normalise(profile['name'])}" if profile.get("name") else "",
                       f"account-code:{profile['credit_code']}" if profile.get("credit_code") else ""} - {""})
        if keys:  # one round trip; sorted, so two transactions take them in the same order
            await self.session.execute(select(*(func.pg_advisory_xact_lock(func.hashtext(k)) for k in keys)))

    async def exact_duplicate(self, profile: dict, exclude_id: uuid.UUID | None = None):
        """(row, "credit_code" | "normalized_name") of a live account this one would duplicate, else None."""
        code = profile.get("credit_code")
        key = normalise(profile["name"]) if profile.get("name") else None
        matches = [accounts.c.normalized_name == key] if key else []
        if code:
            matches.append(accounts.c.credit_code == code)
        if not matches:
            return None
        query = select(*_COLUMNS).where(or_(*matches), accounts.c.merged_into_id.is_(None))
        if exclude_id:
            query = query.where(accounts.c.id != exclude_id)
        # One round trip: both are index lookups (PostgreSQL combines them with a BitmapOr).
        order = [case((accounts.c.credit_code == code, 0), else_=1)] if code else []  # the code match first
        rows = (await self.session.execute(query.order_by(*order, accounts.c.created_at).limit(20))).mappings().all()
        return _pick_duplicate(rows, code)

    async def trigram_index_available(self) -> bool:
        return self.postgres and bool(await self.session.scalar(
            text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")))

    async def with_credit_code(self, code: str) -> list[dict]:
        rows = (await self.session.execute(select(*_COLUMNS).where(
            accounts.c.merged_into_id.is_(None), accounts.c.credit_code == code))).mappings().all()
        return [dict(r) for r in rows]

    async def similar_names(self, key: str, *, limit: int) -> list[tuple[dict, float]]:
        """Live accounts whose normalised name is similar to `key` by pg_trgm's GIN index, best first."""
        # The GIN index answers `%` at the session's threshold; set ours for this transaction only.
        await self.session.execute(text(f"SET LOCAL pg_trgm.similarity_threshold = {MIN_SIMILARITY}"))
        sim = func.similarity(accounts.c.normalized_name, key).label("sim")
        query = (select(*_COLUMNS, sim).where(accounts.c.merged_into_id.is_(None),
                                              accounts.c.normalized_name.op("%")(key))
                 .order_by(sim.desc(), accounts.c.id).limit(limit))
        return [(dict(row), float(row["sim"])) for row in (await self.session.execute(query)).mappings()]

    async def sharing_pieces(self, key: str) -> list[dict]:
        """Without pg_trgm: rows sharing a two-character piece of the key (at most FALLBACK_SCAN_LIMIT),
        to be scored in Python. Fine for development databases; PostgreSQL with pg_trgm is the real path."""
        pieces = sorted({key[i:i + 2] for i in range(max(1, len(key) - 1))})
        if len(pieces) > 12:  # evenly spread, so long names still find partial matches anywhere
            pieces = pieces[:: -(-len(pieces) // 12)]
        match = or_(*(accounts.c.normalized_name.contains(p, autoescape=True) for p in pieces))
        rows = (await self.session.execute(select(*_COLUMNS).where(accounts.c.merged_into_id.is_(None), match)
                                           .limit(FALLBACK_SCAN_LIMIT))).mappings().all()
        return [dict(r) for r in rows]


def _pick_duplicate(rows, code: str | None):
    by_code = next((r for r in rows if code and r["credit_code"] == code), None)
    if by_code is not None:
        return by_code, "credit_code"
    for row in rows:
        if code and row["credit_code"] and row["credit_code"] != code:
            continue  # same name, different legal entity
        return row, "normalized_name"
    return None
