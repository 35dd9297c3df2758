"""Routes of the close reasons: GET for everyone signed in, PUT for admins (ETag = the list's version)."""
from fastapi import APIRouter, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, etag

from . import service
from .schemas import CloseReasonIn, CloseReasonOut

router = APIRouter(tags=["close reasons"])


def _out(response: Response, reasons) -> list[dict]:
    response.headers["ETag"] = etag(reasons.version)
    return [r.__dict__ for r in reasons.reasons]


@router.get("/v1/close-reasons", response_model=list[CloseReasonOut],
            summary="Why opportunities are won or lost: the reasons a close may name, and which need a competitor")
async def get_close_reasons(principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return _out(response, await service.get_close_reasons(session))


@router.put("/v1/close-reasons", response_model=list[CloseReasonOut],
            summary="Admin: replace the list of close reasons (codes are never removed, only deactivated; "
                    "publishes an event)")
async def put_close_reasons(body: list[CloseReasonIn], principal: PrincipalDep, runtime: RuntimeDep,
                            response: Response, if_match: IfMatch = None):
    proposed = [dict(r.model_dump(exclude={"labels"}), labels=r.labels.model_dump(by_alias=True)) for r in body]
    async with runtime.uow() as uow:
        reasons = await service.put_close_reasons(uow, principal, proposed, if_match)
    return _out(response, reasons)
