"""All SQL of the auth slice: the key ring's signing keys, and the user columns sign-in reads and writes."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, insert, select, update

from kam_shared.repository import Repository

from ..common.models import users
from .models import signing_keys


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


class Credentials(Repository):
    async def by_email(self, email: str):
        return (await self.session.execute(select(users.c.id, users.c.email, users.c.role, users.c.active,
                                                  users.c.password_hash).where(users.c.email == email))
                ).mappings().first()

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self.session.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
