"""The territory replica: team-svc's territory events (created, updated: rules, owner, activation)
keep each territory's whole state, version-guarded."""
from __future__ import annotations

from kam_shared.events import TOPICS
from kam_shared.events.team import TerritoryState
from kam_shared.readmodel import ReadModel

from .models import territory_replica


def _row(t: TerritoryState) -> dict:
    return dict(id=t.id, active=t.active, state=t.model_dump(mode="json"), version=t.version)


TERRITORIES = ReadModel(territory_replica, TOPICS["team"], "territory", TerritoryState, _row)
HANDLERS = TERRITORIES.handlers()
