"""The public contract, byte for byte: each service's OpenAPI document and the AsyncAPI catalogue
are compared with the copies under tests/contract/. A change to the contract must be deliberate:
regenerate with `KAM_UPDATE_CONTRACT=1 make test` (or this file alone) and commit the diff."""
import json
import os
from pathlib import Path

import pytest

from kam_shared.events import asyncapi_document
from kam_shared.services import SERVICES

CONTRACT = Path(__file__).parent / "contract"


def _render(document: dict) -> str:
    # Keys sorted: the catalogue's channel order follows which event modules were imported first,
    # which is not part of the contract; every name, value and list order is.
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _compare(name: str, document: dict) -> None:
    path = CONTRACT / name
    rendered = _render(document)
    if os.environ.get("KAM_UPDATE_CONTRACT") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with KAM_UPDATE_CONTRACT=1 to create it"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{name} differs from the committed contract; if the change is meant, regenerate it "
        "(KAM_UPDATE_CONTRACT=1) and commit the diff")


@pytest.mark.parametrize("service", list(SERVICES))
def test_openapi_document_is_the_committed_one(service, tmp_path):
    info = SERVICES[service]
    settings_cls = type(info.settings())
    settings = settings_cls(database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
                            run_background_workers=False)
    app = __import__(f"{info.module}.main", fromlist=["create_app"]).create_app(settings)
    _compare(f"{service}.openapi.json", app.openapi())


def test_asyncapi_document_is_the_committed_one():
    _compare("asyncapi.json", asyncapi_document())


def test_openapi_command_writes_each_services_committed_document(tmp_path):
    """`kam openapi --out DIR` (what the console's client generator reads) writes the same documents."""
    from kam_shared.cli import main

    main(["openapi", "--out", str(tmp_path / "openapi")])
    written = sorted(p.name for p in (tmp_path / "openapi").iterdir())
    assert written == sorted(f"{name}.json" for name in SERVICES)
    for name in SERVICES:
        document = json.loads((tmp_path / "openapi" / f"{name}.json").read_text(encoding="utf-8"))
        assert _render(document) == (CONTRACT / f"{name}.openapi.json").read_text(encoding="utf-8"), name
