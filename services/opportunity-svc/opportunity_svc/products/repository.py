"""All SQL of the product catalogue: the filtered page, one product (locked for a change), by codes."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import or_, select, update

from kam_shared.pagination import decode_cursor
from kam_shared.repository import Repository

from .domain import CODE, Product
from .models import products

_COLUMNS = ("id", "code", "name", "family", "active", "version", "created_at", "updated_at")


def to_domain(row) -> Product:
    return Product(**{c: row[c] for c in _COLUMNS})


def _product_cursor(text: str) -> str:
    code, _, product_id = text.partition("|")
    if not CODE.match(code):
        raise ValueError("not a product code")
    uuid.UUID(product_id)
    return text


class ProductRepository(Repository):
    async def page(self, *, family: str | None, active: bool | None, limit: int,
                   cursor: str | None) -> tuple[list[Product], str | None]:
        query = select(products)
        if family is not None:
            query = query.where(products.c.family == family)
        if active is not None:
            query = query.where(products.c.active.is_(active))
        # (code, id): the code alone is free text, so any string would pass as a cursor; with the id
        # beside it (and the code checked against the code rule) a cursor this API never issued is a 422.
        decode_cursor(cursor, _product_cursor)
        return await self.paginate(query, keys=[products.c.code, products.c.id], limit=limit, cursor=cursor,
                                   present=to_domain)

    async def one(self, code_or_id: str, *, lock: bool = False) -> Product | None:
        """By code, or by id when the text is a UUID (a code may look like one: the code wins)."""
        where = products.c.code == code_or_id
        try:
            where = or_(where, products.c.id == uuid.UUID(code_or_id))
        except ValueError:
            pass
        query = select(products).where(where).order_by((products.c.code == code_or_id).desc()).limit(1)
        row = (await self.session.execute(self.for_update(query) if lock else query)).mappings().first()
        return to_domain(row) if row is not None else None

    async def by_codes(self, codes: Iterable[str]) -> dict[str, Product]:
        codes = sorted(set(codes))
        if not codes:
            return {}
        rows = (await self.session.execute(select(products).where(products.c.code.in_(codes)))).mappings().all()
        return {r["code"]: to_domain(r) for r in rows}

    async def code_taken(self, code: str) -> bool:
        return await self.session.scalar(select(products.c.id).where(products.c.code == code)) is not None

    async def add(self, product: Product, by: uuid.UUID | None) -> None:
        await self.session.execute(self.insert(products).values(
            **{c: getattr(product, c) for c in _COLUMNS}, updated_by=by))

    async def save(self, product: Product, expected_version: int, by: uuid.UUID | None) -> bool:
        result = await self.session.execute(
            update(products).where(products.c.id == product.id, products.c.version == expected_version)
            .values(name=product.name, family=product.family, active=product.active, version=product.version,
                    updated_at=product.updated_at, updated_by=by))
        return result.rowcount == 1
