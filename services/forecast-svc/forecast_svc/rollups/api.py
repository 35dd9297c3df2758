import hashlib
import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.encoders import jsonable_encoder

from kam_shared.app import RuntimeDep
from kam_shared.applied import MAX_WAIT_S, read_until_changed, wait_preference
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import RollupOut

router = APIRouter(tags=["roll-ups"])

WAIT_DESCRIPTION = (f"`wait=<seconds>` (RFC 7240, at most {MAX_WAIT_S:g}) with `If-None-Match`: answer as soon as "
                    "the figures differ from that ETag's, instead of at once; 304 if they are still the same when "
                    "the wait is over")


def figures_tag(body: dict) -> str:
    """A weak ETag of the figures: `as_of` (the last event applied anywhere) is left out, so the tag
    changes when this node's roll-up does, not whenever any event is applied."""
    figures = jsonable_encoder({k: v for k, v in body.items() if k != "as_of"})
    return 'W/"' + hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()[:20] + '"'


@router.get("/v1/rollups", response_model=RollupOut,
            summary="Pipeline, weighted pipeline and closed figures of a node: a user's subtree, an org unit, "
                    "a territory",
            responses={200: {"headers": {"Preference-Applied": {
                           "description": "`wait=<seconds>` when the answer waited for a change",
                           "schema": {"type": "string"}}}},
                       304: {"description": "Not Modified: the figures are still those of `If-None-Match` "
                                            "(after the wait, when `Prefer: wait` was sent)",
                             "headers": {"ETag": {"description": "the figures' tag", "schema": {"type": "string"}}}}})
async def get_rollup(principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                     node: Annotated[uuid.UUID, Query(
                         description="a user id (them and everyone below), an org unit id or a territory id")],
                     period: Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026 (fiscal)")],
                     currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
                     confirmed_only: Annotated[bool, Query(
                         description="only opportunities their primary owner confirmed (what forecasts count)")
                     ] = False,
                     if_none_match: Annotated[str | None, Header(
                         description="the ETag of a roll-up you hold: 304 while the figures are the same")] = None,
                     prefer: Annotated[str | None, Header(description=WAIT_DESCRIPTION)] = None):
    wait_s = wait_preference(prefer) if if_none_match else 0.0

    async def read() -> dict:
        # Visibility and the figures are read afresh each time: a wait never outlives the reader's
        # authority. Reads only, each statement its own snapshot (the cells in one): no transaction.
        async with runtime.db.read_session() as session:
            return await service.rollup_for(session, runtime, principal, node, period, currency, confirmed_only)

    query = ("rollup", principal.user_id, principal.role, node, period, currency, confirmed_only)
    body, tag = await read_until_changed(read, figures_tag, runtime.applied, if_none_match, wait_s, key=query)
    answer = response if body is not None else Response(status_code=304)
    answer.headers["ETag"] = tag
    if wait_s:
        answer.headers["Preference-Applied"] = f"wait={wait_s:g}"
    return body if body is not None else answer
