"""Routes of the product catalogue: the paged list for everyone signed in; admins add and change products
(ETag = the product's version)."""
from typing import Annotated

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, with_etag

from . import service
from .schemas import ProductIn, ProductOut, ProductPage, ProductPatch

router = APIRouter(tags=["products"])


@router.get("/v1/products", response_model=ProductPage,
            summary="The product catalogue in code order, paged; filter by family and active")
async def list_products(principal: PrincipalDep, runtime: RuntimeDep,
                        family: Annotated[str | None, Query(max_length=100)] = None, active: bool | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None):
    async with runtime.db.session() as session:
        return await service.list_products(session, family=family, active=active, limit=limit, cursor=cursor)


@router.get("/v1/products/{code_or_id}", response_model=ProductOut, summary="One product, by code or id")
async def get_product(code_or_id: str, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, (await service.get_product(session, code_or_id)).__dict__)


@router.post("/v1/products", status_code=201, response_model=ProductOut,
             summary="Admin: add a product to the catalogue (the code is unique and never changes)")
async def create_product(body: ProductIn, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        product = await service.create_product(uow, principal, body.model_dump())
    response.headers["Location"] = f"/v1/products/{product.code}"
    return with_etag(response, product.__dict__)


@router.patch("/v1/products/{code_or_id}", response_model=ProductOut,
              summary="Admin: change a product's name, family or active flag (by code or id; If-Match)")
async def patch_product(code_or_id: str, body: ProductPatch, principal: PrincipalDep, runtime: RuntimeDep,
                        response: Response, if_match: IfMatch = None):
    fields = body.model_dump(exclude_unset=True)
    async with runtime.uow() as uow:
        product = await service.update_product(uow, principal, code_or_id, fields, if_match)
    return with_etag(response, product.__dict__)
