"""The four deployables: name, Python module and default port."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    module: str
    port: int
    # The topics its consumer group (named after the service) reads; a test holds this list to the
    # topics of the service's real handlers, and the AsyncAPI document publishes it.
    consumes: tuple[str, ...] = ()

    @property
    def dir(self) -> Path:
        return Path(importlib.import_module(self.module).__file__).resolve().parent.parent

    @property
    def app_factory(self) -> str:
        return f"{self.module}.main:create_app"

    def settings(self):
        return importlib.import_module(f"{self.module}.settings").Settings()


# Start order matters only for speed: team-svc first, since the others verify tokens with its JWKS.
SERVICES: dict[str, ServiceInfo] = {s.name: s for s in [
    ServiceInfo("team-svc", "team_svc", 8004, consumes=("kam.account.events", "kam.opportunity.events")),
    ServiceInfo("account-svc", "account_svc", 8001, consumes=("kam.opportunity.events", "kam.team.events")),
    ServiceInfo("opportunity-svc", "opportunity_svc", 8002, consumes=("kam.account.events", "kam.team.events")),
    ServiceInfo("forecast-svc", "forecast_svc", 8003,
                consumes=("kam.account.events", "kam.opportunity.events", "kam.team.events")),
]}


def topic_owner(topic: str) -> ServiceInfo | None:
    """The service that publishes `topic` (`kam.<name>.events` is `<name>-svc`'s), or None."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != "kam" or parts[2] != "events":
        return None
    return SERVICES.get(f"{parts[1]}-svc")


def source_of(service: str) -> str:
    """The CloudEvents `source` of the service's events."""
    return f"/kam/{service}"
