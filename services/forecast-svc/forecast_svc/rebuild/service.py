"""Rebuild every read model from the owners' HTTP snapshots. This module orchestrates the slices
(roll-ups, then the health slice's quota replica, then the predictions' journeys); no slice imports it."""
from __future__ import annotations

import time

import httpx
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.broker import read_topic
from kam_shared.consumer import foreign_event
from kam_shared.domain_errors import Forbidden, UpstreamUnavailable
from kam_shared.events import TOPICS, CloudEvent, utcnow
from kam_shared.peers import peer_client, snapshot

from ..health.service import rebuild_quotas, regenerate_stage_snapshots
from ..predictions.service import rebuild_journeys
from ..rollups.consumers import ACCOUNTS, ORG_UNITS, TERRITORIES
from ..rollups.domain.rows import fact_row, user_org_row, user_row
from . import domain
from .repository import RebuildRepository


async def stage_model_snapshot(runtime: Runtime, token: str) -> tuple[int, list[dict]]:
    """opportunity-svc's stage model and its version (the ETag)."""
    async with peer_client(runtime, "opportunity-svc") as client:
        try:
            resp = await client.get("/v1/stage-model", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"opportunity-svc unreachable ({type(exc).__name__})") from None
    if resp.status_code != 200:
        raise UpstreamUnavailable(f"opportunity-svc answered {resp.status_code} for /v1/stage-model")
    return int(resp.headers.get("etag", '"0"').strip('W/"') or 0), resp.json()


async def opportunity_stream(runtime: Runtime) -> list[tuple]:
    """Every retained event of kam.opportunity.events as (time, type, data)."""
    try:
        messages = await read_topic(runtime.settings, TOPICS["opportunity"])
    except (KafkaError, OSError) as exc:
        raise UpstreamUnavailable(f"the broker did not replay kam.opportunity.events ({type(exc).__name__})") from None
    out = []
    for m in messages:
        try:
            event = CloudEvent.model_validate_json(m.value or b"")
        except (ValueError, ValidationError):
            continue  # what the live consumer dead-letters, the replay skips
        if foreign_event(m.topic, event) is not None or not isinstance(event.data, dict):
            continue  # a forged source or type, or no payload: dead-lettered live, skipped here
        out.append((event.time, event.type, event.data))
    return out


async def rebuild(runtime: Runtime, principal: Principal) -> dict:
    """Rebuild every read model from the owners' HTTP snapshots (team-svc users, opportunity-svc
    opportunities), then recompute the roll-up cells from the facts; replay the retained opportunity
    events into the state history and regenerate the daily stage snapshots it can (the days not
    taken, from the history's first day on).

    Events keep flowing meanwhile: snapshot rows are written with the same version guard as
    events (the newer of the two wins), facts missing from the snapshot are removed only if they
    predate the rebuild, and the cells are recomputed under an exclusive lock that no event
    transaction of any replica can interleave with. So the result equals the live stream's.
    """
    if not principal.is_admin:
        raise Forbidden("only an admin can rebuild read models")
    started = utcnow()
    clock = time.perf_counter()
    user_states = [domain.user_state(u) async for u in snapshot(runtime, "team-svc", "/v1/users", principal.token)]
    users_rows = [user_row(u) for u in user_states]
    units = [ORG_UNITS.state_model.model_validate(u)
             async for u in snapshot(runtime, "team-svc", "/v1/org-units", principal.token)]
    territories = [TERRITORIES.state_model.model_validate(t)
                   async for t in snapshot(runtime, "team-svc", "/v1/territories", principal.token)]
    accounts = [ACCOUNTS.state_model.model_validate(a)
                async for a in snapshot(runtime, "account-svc", "/v1/accounts/snapshot", principal.token, 500)]
    model_version, stages = await stage_model_snapshot(runtime, principal.token)
    # The live path's own mapping, with the stage model the rebuild also installs.
    probability = domain.stage_probabilities(stages)
    states = [domain.opportunity_state(o)
              async for o in snapshot(runtime, "opportunity-svc", "/v1/opportunities", principal.token)]
    fact_rows = [fact_row(o, probability) for o in states]
    history_rows, horizon = domain.replay_history(await opportunity_stream(runtime))
    users = runtime.tables.user_replica
    # A transaction of its own (not the route's unit of work): it holds the read models exclusively,
    # and the quota rebuild after it calls team-svc, which must not happen inside it.
    async with runtime.db.session() as session, session.begin():
        repo = RebuildRepository(session)
        await repo.lock_read_models(runtime.settings.service_name)
        await repo.save_stage_probabilities(domain.stage_rows(stages, model_version))
        await repo.save_users(users, users_rows)
        await repo.save_nodes([user_org_row(u) for u in user_states], [ORG_UNITS.to_row(u) for u in units],
                              [TERRITORIES.to_row(t) for t in territories], [ACCOUNTS.to_row(a) for a in accounts])
        await repo.save_facts(fact_rows)
        stale = domain.stale_fact_ids(await repo.stored_facts(), {r["id"] for r in fact_rows}, started)
        await repo.remove_facts(stale)
        await repo.recompute_cells(users)
        history = await repo.rebuild_history(history_rows, horizon)
        snapshots = await regenerate_stage_snapshots(session)
    quotas = await rebuild_quotas(runtime, principal)
    # The predictions' journeys: from opportunity-svc's stage history of each opportunity whose
    # stored journey is older than the snapshot (its own transaction, after the HTTP calls).
    journeys = await rebuild_journeys(runtime, principal, states, started)
    return {"users": len(users_rows), "org_units": len(units), "territories": len(territories),
            "accounts": len(accounts), "opportunities": len(fact_rows), "removed": len(stale), "quotas": quotas,
            "journeys": journeys, "history": history, "stage_snapshot_days": snapshots,
            "started_at": started, "took_ms": round((time.perf_counter() - clock) * 1000, 1)}
