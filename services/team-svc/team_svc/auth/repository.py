"""All SQL of the auth slice: the key ring's signing keys, the user columns sign-in reads and writes,
the sign-in throttle and the refresh tokens."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, func, insert, select, update

from kam_shared.repository import Repository

from ..common.models import users
from .domain import RefreshState, ThrottleState
from .models import refresh_tokens, signin_throttle, signing_keys


class SigningKeys(Repository):
    async def known(self, kid: str) -> bool:
        return bool(await self.session.scalar(select(signing_keys.c.kid).where(signing_keys.c.kid == kid)))

    async def signing_kids(self) -> list[str]:
        """Kids of the keys not superseded yet, newest first."""
        return list((await self.session.execute(
            select(signing_keys.c.kid).where(signing_keys.c.superseded_at.is_(None))
            .order_by(signing_keys.c.activated_at.desc()))).scalars().all())

    async def supersede(self, kids: list[str], at: dt.datetime, valid_until: dt.datetime) -> None:
        await self.session.execute(update(signing_keys).where(signing_keys.c.kid.in_(kids))
                                   .values(superseded_at=at, valid_until=valid_until))

    async def erase_expired_private_keys(self, now: dt.datetime) -> None:
        await self.session.execute(update(signing_keys).where(signing_keys.c.valid_until < now,
                                                              signing_keys.c.private_pem.is_not(None))
                                   .values(private_pem=None))

    async def add(self, values: dict) -> None:
        await self.session.execute(insert(signing_keys).values(**values))

    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(signing_keys))

    async def newest_signer(self):
        return (await self.session.execute(
            select(signing_keys.c.kid, signing_keys.c.private_pem, signing_keys.c.activated_at)
            .where(signing_keys.c.superseded_at.is_(None), signing_keys.c.private_pem.is_not(None))
            .order_by(signing_keys.c.activated_at.desc()).limit(1))).first()

    async def published_jwks(self, now: dt.datetime) -> list:
        return list((await self.session.execute(
            select(signing_keys.c.public_jwk)
            .where((signing_keys.c.superseded_at.is_(None)) | (signing_keys.c.valid_until > now))
            .order_by(signing_keys.c.activated_at.desc()))).scalars().all())

    async def listing(self) -> list:
        return (await self.session.execute(select(
            signing_keys.c.kid, signing_keys.c.source, signing_keys.c.activated_at, signing_keys.c.superseded_at,
            signing_keys.c.valid_until).order_by(signing_keys.c.activated_at.desc()))).mappings().all()


CREDENTIAL_COLUMNS = [users.c.id, users.c.email, users.c.name, users.c.role, users.c.active, users.c.password_hash,
                      users.c.must_change_password]


class Credentials(Repository):
    async def by_email(self, email: str):
        return (await self.session.execute(select(*CREDENTIAL_COLUMNS).where(users.c.email == email))
                ).mappings().first()

    async def by_id(self, user_id: uuid.UUID, *, lock: bool = False):
        query = select(*CREDENTIAL_COLUMNS).where(users.c.id == user_id)
        return (await self.session.execute(self.for_update(query) if lock else query)).mappings().first()

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str, *,
                                must_change_password: bool | None = None) -> None:
        values = {"password_hash": password_hash}
        if must_change_password is not None:
            values["must_change_password"] = must_change_password
        await self.session.execute(update(users).where(users.c.id == user_id).values(**values))


class Throttle(Repository):
    """Rows of signin_throttle, read under a row lock so that replicas count one attempt at a time."""

    async def lock(self, keys: dict[str, str], now: dt.datetime) -> dict[str, ThrottleState]:
        """{key: scope} -> {key: state}. The INSERT comes first: on SQLite it takes the write lock
        before anything is read (no read-then-upgrade deadlock); on PostgreSQL the rows then exist to
        be locked, in key order (no deadlock between two attempts touching the same two rows)."""
        for _ in range(2):  # a second round only if a prune removed a row between the two statements
            await self.session.execute(self.insert(signin_throttle).values([
                dict(key=k, scope=s, failures=0, blocked_until=None, last_attempt_at=now)
                for k, s in sorted(keys.items())]).on_conflict_do_nothing(index_elements=[signin_throttle.c.key]))
            rows = (await self.session.execute(self.for_update(
                select(signin_throttle).where(signin_throttle.c.key.in_(list(keys))).order_by(signin_throttle.c.key))
            )).mappings().all()
            if len(rows) == len(keys):
                break
        return {r["key"]: ThrottleState(r["failures"], r["blocked_until"], r["last_attempt_at"]) for r in rows}

    async def save(self, key: str, state: ThrottleState) -> None:
        await self.session.execute(update(signin_throttle).where(signin_throttle.c.key == key).values(
            failures=state.failures, blocked_until=state.blocked_until, last_attempt_at=state.last_attempt_at))

    async def forget(self, key: str) -> None:
        await self.session.execute(delete(signin_throttle).where(signin_throttle.c.key == key))

    async def prune(self, before: dt.datetime, batch: int = 5000) -> None:
        """Skips rows an attempt holds right now (SKIP LOCKED on PostgreSQL): a prune never waits,
        so it can never be half of a deadlock with sign-ins."""
        stale = (await self.session.execute(self.for_update(
            select(signin_throttle.c.key).where(signin_throttle.c.last_attempt_at < before).limit(batch),
            skip_locked=True))).scalars().all()
        if stale:
            await self.session.execute(delete(signin_throttle).where(signin_throttle.c.key.in_(list(stale))))


class RefreshTokens(Repository):
    """Rows of refresh_tokens: only hashes are stored; a presented token is read under a row lock so
    that two refreshes racing with one token cannot both succeed."""

    async def add(self, *, token_hash: str, family_id: uuid.UUID, user_id: uuid.UUID, now: dt.datetime,
                  expires_at: dt.datetime) -> None:
        await self.session.execute(insert(refresh_tokens).values(
            token_hash=token_hash, family_id=family_id, user_id=user_id, issued_at=now, expires_at=expires_at))

    async def presented(self, token_hash: str):
        """(row, state) of a presented token, locked, with its user's active and must-change flags."""
        row = (await self.session.execute(self.for_update(
            select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)))).mappings().first()
        if row is None:
            return None, None
        user = (await self.session.execute(select(users.c.active, users.c.must_change_password)
                                           .where(users.c.id == row["user_id"]))).first()
        return row, RefreshState(row["expires_at"], row["used_at"], row["revoked_at"],
                                 bool(user and user.active), bool(user and user.must_change_password))

    async def mark_used(self, token_hash: str, now: dt.datetime) -> None:
        await self.session.execute(update(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
                                   .values(used_at=now))

    async def family_of(self, token_hash: str) -> uuid.UUID | None:
        return await self.session.scalar(select(refresh_tokens.c.family_id)
                                         .where(refresh_tokens.c.token_hash == token_hash))

    async def revoke_family(self, family_id: uuid.UUID, now: dt.datetime, reason: str) -> None:
        await self.session.execute(update(refresh_tokens).where(
            refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason))

    async def revoke_user(self, user_id: uuid.UUID, now: dt.datetime, reason: str) -> int:
        """Every live token of the user; the number of sessions (families) that ended."""
        live = select(func.count(func.distinct(refresh_tokens.c.family_id))).where(
            refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.used_at.is_(None), refresh_tokens.c.expires_at > now)
        sessions = await self.session.scalar(live)
        await self.session.execute(update(refresh_tokens).where(
            refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason))
        return int(sessions or 0)

    async def prune(self, before: dt.datetime) -> None:
        """Tokens expired before `before` can never be presented successfully again (nor trip reuse)."""
        await self.session.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at < before))
