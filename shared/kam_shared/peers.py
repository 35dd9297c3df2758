"""HTTP calls to the other services (snapshots for rebuilds, look-ups when a replica lags).

One place decides how to reach a peer: its URL from settings, or a client factory put in
`runtime.peers[<service>]` (tests use the peer's real app in-process).
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from .errors import UpstreamUnavailable

_URL_SETTING = {"account-svc": "kam_account_svc_url", "opportunity-svc": "kam_opportunity_svc_url",
                "forecast-svc": "kam_forecast_svc_url", "team-svc": "kam_team_svc_url"}


def peer_client(runtime, service: str, timeout: float = 10) -> httpx.AsyncClient:
    factory = runtime.peers.get(service)
    if factory:
        return factory()
    return httpx.AsyncClient(base_url=getattr(runtime.settings, _URL_SETTING[service]), timeout=timeout)


async def snapshot(runtime, service: str, path: str, token: str, page_size: int = 1000) -> AsyncIterator[dict]:
    """Every item of a paged list endpoint (`items`, `next_cursor`), in order, as the caller sees it."""
    cursor = None
    async with peer_client(runtime, service, timeout=60) as client:
        while True:
            params = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
            try:
                resp = await client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(f"{service} unreachable ({type(exc).__name__})") from None
            if resp.status_code != 200:
                raise UpstreamUnavailable(f"{service} answered {resp.status_code} for {path}")
            page = resp.json()
            for item in page["items"]:
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return
