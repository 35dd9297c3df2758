"""Use cases of the product catalogue: list it (everyone signed in); an admin adds and changes products
(If-Match on the product's version), each with its event in the same unit of work."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, PreconditionFailed
from kam_shared.events import DomainEvent, FieldChange, utcnow
from kam_shared.events.opportunity import ProductCreated, ProductState, ProductUpdated
from kam_shared.http import check_if_match

from .domain import Product
from .repository import ProductRepository


def state(product: Product) -> ProductState:
    return ProductState(**product.__dict__)


async def list_products(session: AsyncSession, *, family: str | None, active: bool | None, limit: int,
                        cursor: str | None) -> dict:
    family = " ".join(family.split()).lower() if family is not None else None
    items, next_cursor = await ProductRepository(session).page(family=family, active=active, limit=limit,
                                                               cursor=cursor)
    return dict(items=[p.__dict__ for p in items], next_cursor=next_cursor)


async def get_product(session: AsyncSession, code_or_id: str) -> Product:
    product = await ProductRepository(session).one(code_or_id)
    if product is None:
        raise NotFound(f"product {code_or_id} not found")
    return product


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin changes the product catalogue")


async def create_product(uow: UnitOfWork, principal: Principal, body: dict) -> Product:
    _require_admin(principal)
    repo = ProductRepository(uow.session)
    product = Product.new(now=utcnow(), **body)
    if await repo.code_taken(product.code):
        raise Conflict(f"product code {product.code!r} is taken", field="code")
    try:
        await repo.add(product, principal.user_id)
    except IntegrityError:  # the same code added concurrently
        raise Conflict(f"product code {product.code!r} is taken", field="code") from None
    uow.publish(DomainEvent("kam.opportunity.product_created.v1", product.id, product.version,
                            ProductCreated(product=state(product), changed_by=principal.user_id)))
    return product


async def update_product(uow: UnitOfWork, principal: Principal, code_or_id: str, fields: dict,
                         if_match: str | None) -> Product:
    _require_admin(principal)
    repo = ProductRepository(uow.session)
    current = await repo.one(code_or_id, lock=True)
    if current is None:
        raise NotFound(f"product {code_or_id} not found")
    check_if_match(if_match, current.version)
    revised, changes = current.revise(fields, now=utcnow())
    if not changes:
        return current
    if not await repo.save(revised, current.version, principal.user_id):
        raise PreconditionFailed(f"product {current.code} changed concurrently; reload and retry")
    uow.publish(DomainEvent("kam.opportunity.product_updated.v1", revised.id, revised.version, ProductUpdated(
        product=state(revised), changed_by=principal.user_id,
        changes={k: FieldChange(before=a, after=b) for k, (a, b) in changes.items()})))
    return revised
