"""The AsyncAPI document passes the official AsyncAPI parser (npm @asyncapi/parser), and the
consumer groups it names are the ones the services really run."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kam_shared.events import asyncapi_document
from kam_shared.services import SERVICES

VALIDATOR = Path(__file__).resolve().parent.parent / "tools" / "asyncapi"


def _validate(document: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    if shutil.which("node") is None:
        pytest.fail("node is needed to validate the AsyncAPI document (node 20 is on every machine here)")
    if not (VALIDATOR / "node_modules" / "@asyncapi" / "parser").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=VALIDATOR, check=True)
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return subprocess.run(["node", "validate.mjs", str(path)], cwd=VALIDATOR, capture_output=True, text=True,
                          timeout=120)


def test_the_document_is_valid_asyncapi(tmp_path):
    result = _validate(asyncapi_document(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_document(tmp_path):
    document = asyncapi_document()
    document["channels"]["kam_team_events"]["bindings"]["kafka"]["partitions"] = "six"
    result = _validate(document, tmp_path)
    assert result.returncode == 1 and "partitions" in result.stdout, result.stdout


def test_servers_key_dlq_and_consumer_groups_are_declared():
    document = asyncapi_document()
    assert {s["protocol"] for s in document["servers"].values()} == {"kafka"}
    for topic in ("kam.account.events", "kam.opportunity.events", "kam.team.events", "kam.forecast.events"):
        channel = next(c for c in document["channels"].values() if c["address"] == topic + ".dlq")
        message = document["components"]["messages"][next(iter(channel["messages"]))]
        assert set(message["headers"]["required"]) == {"kam-dlq-reason", "kam-dlq-consumer", "kam-dlq-origin"}
    created = document["components"]["messages"]["opportunity_created_v1"]
    assert created["bindings"]["kafka"]["key"]["format"] == "uuid"
    receive = document["operations"]["receive_kam_opportunity_events"]
    assert receive["bindings"]["kafka"]["groupId"]["enum"] == ["account-svc", "forecast-svc", "team-svc"]


@pytest.mark.parametrize("service", list(SERVICES))
def test_declared_consumer_topics_are_the_service_handlers_topics(service, tmp_path):
    info = SERVICES[service]
    settings = type(info.settings())(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
                                     run_background_workers=False)
    app = __import__(f"{info.module}.main", fromlist=["create_app"]).create_app(settings)
    assert app.state.consumed_topics == sorted(info.consumes)
