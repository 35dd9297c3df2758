"""A client generated from each service's OpenAPI document works on errors too, as a new user
would find it: openapi-python-client generates a package from the document the running service
serves, the test imports it and drives the real stack through it (201, 404, 409, 412, 422), and
every error comes back parsed as the shared `Problem` model, never as an exception."""
import datetime as dt
import importlib
import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from account_svc.accounts.domain.credit_code import check_character
from kam_shared.services import SERVICES

CONFIG = "post_hooks: []\n"  # the generated code is imported, not formatted: no ruff run


@pytest.fixture(scope="module")
def clients(stack, tmp_path_factory):
    """service -> the imported generated package (`generated_<service>`), from its live document."""
    root = tmp_path_factory.mktemp("generated-clients")
    (root / "config.yaml").write_text(CONFIG)
    packages = {}
    for service in SERVICES:
        document = httpx.get(f"{stack.url(service)}/openapi.json", timeout=30).json()
        (root / f"{service}.json").write_text(json.dumps(document))
        name = "generated_" + service.replace("-", "_")
        run = subprocess.run(
            [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(root / f"{service}.json"),
             "--meta", "none", "--output-path", str(root / name), "--config", str(root / "config.yaml")],
            capture_output=True, text=True, timeout=300)
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        # Any schema it could not understand is reported as a warning; the contract has none.
        assert "Warning" not in output and "Unable to" not in output, output
        packages[service] = name
    sys.path.insert(0, str(root))
    try:
        yield {service: importlib.import_module(name) for service, name in packages.items()}
    finally:
        sys.path.remove(str(root))


def _authenticated(package, stack, service: str, auth: dict):
    token = auth["Authorization"].split(" ", 1)[1]
    return package.AuthenticatedClient(base_url=stack.url(service), token=token, timeout=30)


def _module(package, dotted: str):
    return importlib.import_module(f"{package.__name__}.{dotted}")


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_generated_client_imports_with_problem_model(clients, service):
    package = clients[service]
    models = _module(package, "models")
    problem = models.Problem.from_dict({"type": "about:blank", "title": "Not found", "status": 404,
                                        "detail": "no such thing", "instance": "/v1/x"})
    assert (problem.status, problem.detail, problem.instance) == (404, "no such thing", "/v1/x")
    assert models.ProblemFieldError.from_dict({"field": "name", "message": "required"}).field == "name"
    # Every API module imports (the generator wrote code for every operation it understood).
    api = _module(package, "api")
    api_dir = Path(api.__file__).parent
    modules = [f"api.{tag.name}.{m.stem}" for tag in sorted(api_dir.iterdir()) if tag.is_dir()
               for m in sorted(tag.glob("*.py")) if m.stem != "__init__"]
    assert modules
    for name in modules:
        assert hasattr(_module(package, name), "sync_detailed"), name


def test_account_client_201_409_404_412_422(clients, stack, org):
    _api, auth, _ids = org
    package = clients["account-svc"]
    models = _module(package, "models")
    accounts = "api.accounts."
    create = _module(package, accounts + "create_account_v1_accounts_post")
    get = _module(package, accounts + "get_account_v1_accounts_account_id_get")
    patch = _module(package, accounts + "patch_account_v1_accounts_account_id_patch")
    client = _authenticated(package, stack, "account-svc", auth["rep"])
    first17 = "91" + "".join(random.choice("0123456789") for _ in range(15))
    credit_code = first17 + check_character(first17)

    created = create.sync_detailed(client=client, body=models.AccountCreate(
        name=f"Generated Client Bank {credit_code}", credit_code=credit_code))
    assert created.status_code == 201, created.content
    account = created.parsed
    assert isinstance(account, models.AccountOut) and account.credit_code == credit_code
    assert created.headers["Location"] == f"/v1/accounts/{account.id}" and created.headers["ETag"] == '"1"'

    duplicate = create.sync_detailed(client=client, body=models.AccountCreate(name="Another name",
                                                                             credit_code=credit_code))
    assert duplicate.status_code == 409
    assert isinstance(duplicate.parsed, models.Problem)
    assert duplicate.parsed.existing_id == str(account.id) and duplicate.parsed.match == "credit_code"

    missing = get.sync_detailed(client=client, account_id=uuid.uuid4())
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Problem)
    assert missing.parsed.status == 404 and missing.parsed.title == "Not found"

    stale = patch.sync_detailed(client=client, account_id=account.id, if_match='"99"',
                                body=models.AccountPatch(industry="banking"))
    assert stale.status_code == 412 and isinstance(stale.parsed, models.Problem)
    assert stale.parsed.current_version == account.version

    invalid = create.sync_detailed(client=client, body=models.AccountCreate(name=""))
    assert invalid.status_code == 422 and isinstance(invalid.parsed, models.Problem)
    assert [(e.field, bool(e.message)) for e in invalid.parsed.errors] == [("name", True)]

    # The account is unchanged by the refused calls.
    again = get.sync_detailed(client=client, account_id=account.id)
    assert again.status_code == 200 and again.parsed.version == account.version and again.parsed.industry is None


def test_opportunity_client_201_404_409_412_422(clients, stack, org):
    _api, auth, ids = org
    accounts_package, package = clients["account-svc"], clients["opportunity-svc"]
    account_models, models = _module(accounts_package, "models"), _module(package, "models")
    create_account = _module(accounts_package, "api.accounts.create_account_v1_accounts_post")
    account = create_account.sync(client=_authenticated(accounts_package, stack, "account-svc", auth["rep"]),
                                  body=account_models.AccountCreate(name=f"Generated Opp Co {uuid.uuid4().hex[:8]}"))
    assert isinstance(account, account_models.AccountOut)

    ops = "api.opportunities."
    create = _module(package, ops + "create_opportunity_v1_opportunities_post")
    get = _module(package, ops + "get_opportunity_v1_opportunities_opp_id_get")
    stage = _module(package, ops + "change_stage_v1_opportunities_opp_id_stage_post")
    close = _module(package, ops + "close_opportunity_v1_opportunities_opp_id_close_post")
    client = _authenticated(package, stack, "opportunity-svc", auth["rep"])

    created = create.sync_detailed(client=client, body=models.OpportunityCreate(
        account_id=account.id, name="Generated pipeline deal", amount="2500.00", currency="CNY",
        close_date=dt.date(2026, 12, 15), owner_id=uuid.UUID(ids["rep"])))
    assert created.status_code == 201, created.content
    opp = created.parsed
    assert isinstance(opp, models.OpportunityOut) and opp.stage == 1 and opp.amount == "2500.00"
    assert created.headers["Location"] == f"/v1/opportunities/{opp.id}"

    missing = get.sync_detailed(client=client, opp_id=uuid.uuid4())
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Problem)

    invalid = stage.sync_detailed(client=client, opp_id=opp.id, body=models.StageChange(stage=9))
    assert invalid.status_code == 422 and isinstance(invalid.parsed, models.Problem)
    assert [e.field for e in invalid.parsed.errors] == ["stage"]

    moved = stage.sync_detailed(client=client, opp_id=opp.id, body=models.StageChange(stage=3),
                                if_match=created.headers["ETag"])
    assert moved.status_code == 200 and moved.parsed.stage == 3
    stale = stage.sync_detailed(client=client, opp_id=opp.id, body=models.StageChange(stage=4),
                                if_match=created.headers["ETag"])
    assert stale.status_code == 412 and isinstance(stale.parsed, models.Problem)
    assert stale.parsed.current_version == moved.parsed.version

    won = close.sync_detailed(client=client, opp_id=opp.id, body=models.Close(
        outcome=models.CloseOutcome.WON, reason="best_value", note="generated client won it"))
    assert won.status_code == 200 and won.parsed.stage == 8
    closed = stage.sync_detailed(client=client, opp_id=opp.id, body=models.StageChange(stage=2))
    assert closed.status_code == 409 and isinstance(closed.parsed, models.Problem)
    assert "reopen" in closed.parsed.detail
