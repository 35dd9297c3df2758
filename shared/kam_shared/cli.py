"""`kam` command: migrate / serve one service, run the whole local stack, print the event catalogue,
run a command with a test PostgreSQL."""
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
    # X-Forwarded-* are believed only from the configured proxies (uvicorn would trust 127.0.0.1 by default).
    trusted = settings.kam_trusted_proxies.strip()
    uvicorn.run(svc.app_factory, factory=True, host=settings.host, port=settings.port,
                log_config=None, access_log=False, proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None)


def cmd_run(args) -> None:
    from .devstack import run_foreground

    run_foreground(seed=not args.no_seed)


def cmd_catalogue(args) -> None:
    from .events import asyncapi_document

    json.dump(asyncapi_document(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


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
    p = sub.add_parser("catalogue", help="print the AsyncAPI document of every event")
    p.set_defaults(fn=cmd_catalogue)
    p = sub.add_parser("with-postgres", help="run a command (the tests, a benchmark) with a PostgreSQL: "
                       "127.0.0.1:5432 if it answers, else a test cluster started and stopped here")
    p.add_argument("command_line", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_with_postgres)
    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
