"""Routes of the stage model: GET for everyone, PUT for admins (ETag = the model's version)."""
from fastapi import APIRouter, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, etag

from . import service
from .schemas import StageIn, StageOut

router = APIRouter(tags=["opportunities"])


def _stages_out(response: Response, model) -> list[dict]:
    response.headers["ETag"] = etag(model.version)
    return [s.__dict__ for s in model.stages]


@router.get("/v1/stage-model", response_model=list[StageOut], tags=["stage model"],
            summary="The eight stages with names, descriptions and probabilities (ETag: the model's version)")
async def get_stage_model(principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return _stages_out(response, await service.get_stage_model(session))


@router.put("/v1/stage-model", response_model=list[StageOut], tags=["stage model"],
            summary="Admin: replace names, descriptions and probabilities of the eight stages (publishes an event)")
async def put_stage_model(body: list[StageIn], principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                          if_match: IfMatch = None):
    async with runtime.uow() as uow:
        model = await service.put_stage_model(uow, principal, [s.model_dump() for s in body], if_match)
    return _stages_out(response, model)
