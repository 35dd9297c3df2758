"""`kam` command: migrate / serve one service, run the whole local stack or the gateway, print the
event catalogue or the Ingress, write the services' OpenAPI documents, run a command with a test PostgreSQL."""
from __future__ import annotations

import argparse
import json
import sys

from .services import SERVICES


def _service(name: str):
    if name not in SERVICES:
        sys.exit(f"unknown service {name!r}; one of: {', '.join(SERVICES)}")
    return SERVICES[name]


def cmd_migrate(args) -> None:
    from .migrations import upgrade

    svc = _service(args.service)
    upgrade(svc.dir, svc.settings().effective_database_url())


def cmd_serve(args) -> None:
    import uvicorn

    svc = _service(args.service)
    settings = svc.settings()
    if not args.no_migrate:
        from .migrations import upgrade

        upgrade(svc.dir, settings.effective_database_url())
    # X-Forwarded-* are believed only from the configured proxies, KAM_TRUSTED_PROXIES (uvicorn would
    # otherwise trust any peer on 127.0.0.1); team-svc's sign-in throttle applies the same list.
    trusted = settings.kam_trusted_proxies.strip()
    uvicorn.run(svc.app_factory, factory=True, host=settings.host, port=settings.port,
                log_config=None, access_log=False, proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None)


def cmd_run(args) -> None:
    from .devstack import run_foreground

    run_foreground(seed=not args.no_seed)


def cmd_gateway(args) -> None:
    from .gateway import serve

    serve()


def cmd_ingress(args) -> None:
    from .gateway import ingress_yaml

    sys.stdout.write(ingress_yaml())


def cmd_kafka_acls(args) -> None:
    from .kafka_acls import acl_script
    sys.stdout.write(acl_script())


def cmd_kafka_users(args) -> None:
    from .kafka_acls import strimzi_users
    sys.stdout.write(strimzi_users())


def cmd_catalogue(args) -> None:
    from .events import asyncapi_document

    json.dump(asyncapi_document(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def openapi_documents() -> dict[str, dict]:
    """Each service's OpenAPI document from its app object: no server, no database connection, no
    background workers (the same way tests/test_contract.py builds them)."""
    import importlib
    import tempfile
    from pathlib import Path

    documents = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, info in SERVICES.items():
            settings = type(info.settings())(database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'unused.db'}",
                                             run_background_workers=False)
            documents[name] = importlib.import_module(f"{info.module}.main").create_app(settings).openapi()
    return documents


def cmd_openapi(args) -> None:
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, document in openapi_documents().items():
        (out / f"{name}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(out / f"{name}.json")


def cmd_with_postgres(args) -> None:
    from .testpg import run_with_postgres

    command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
    if not command:
        sys.exit("with-postgres: name the command to run after --")
    sys.exit(run_with_postgres(command))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kam", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="apply Alembic migrations for one service (DATABASE_URL)")
    p.add_argument("service")
    p.set_defaults(fn=cmd_migrate)
    p = sub.add_parser("serve", help="migrate, then serve one service on $PORT")
    p.add_argument("service")
    p.add_argument("--no-migrate", action="store_true")
    p.set_defaults(fn=cmd_serve)
    p = sub.add_parser("run", help="broker + four services + demo data, until Ctrl-C")
    p.add_argument("--no-seed", action="store_true")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("gateway", help="one origin: the console at / and /v1 routed to the services "
                       "($KAM_GATEWAY_PORT, default 8000)")
    p.set_defaults(fn=cmd_gateway)
    p = sub.add_parser("ingress", help="print deploy/k8s/base/ingress.yaml, generated from the gateway's routes")
    p.set_defaults(fn=cmd_ingress)
    p = sub.add_parser("kafka-acls", help="print deploy/kafka/acls.sh: each service's Kafka user and ACLs")
    p.set_defaults(fn=cmd_kafka_acls)
    p = sub.add_parser("kafka-users", help="print deploy/k8s/kafka/kafka-users.yaml (Strimzi KafkaUsers)")
    p.set_defaults(fn=cmd_kafka_users)
    p = sub.add_parser("catalogue", help="print the AsyncAPI document of every event")
    p.set_defaults(fn=cmd_catalogue)
    p = sub.add_parser("openapi", help="write <service>.json, each service's OpenAPI document, into --out "
                       "(from the app objects; no server needed)")
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_openapi)
    p = sub.add_parser("with-postgres", help="run a command (the tests, a benchmark) with a PostgreSQL: "
                       "127.0.0.1:5432 if it answers, else a test cluster started and stopped here")
    p.add_argument("command_line", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_with_postgres)
    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
