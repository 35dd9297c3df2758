"""PostgreSQL for `make test`: the one at 127.0.0.1:5432 if it answers, else a throwaway cluster
started here (Debian's `postgresql` installed first when we are root and apt is there), else SQLite.

The cluster lives in a temporary folder, listens on a free loopback port with trust auth, runs
without fsync (a test database is thrown away), and is stopped and deleted when the run ends.
Tests and benchmarks find it through `KAM_PG_PORT` (see `devstack.pg_url`).
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .devstack import PG_HOST, free_port, pg_answers

DEFAULT_PORT = 5432
# Debian creates and starts a "main" cluster on 5432 when the package is installed; the test run
# must leave nothing running, so it asks for no cluster (only when no such setting exists yet).
CREATECLUSTER_CONF = Path("/etc/postgresql-common/createcluster.conf")


def _say(line: str) -> None:
    print(f"[make test] {line}", file=sys.stderr, flush=True)


def find_bindir() -> Path | None:
    """The newest installed server's bin folder (Debian layout), or one on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]),
                            reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "postgres").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("postgres"):
        return Path(initdb).parent
    return None


def install_debian_postgresql() -> bool:
    """apt-get install postgresql, when root and apt are there. True when it installed."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    if not CREATECLUSTER_CONF.exists():
        CREATECLUSTER_CONF.parent.mkdir(parents=True, exist_ok=True)
        CREATECLUSTER_CONF.write_text("# written by KAM's make test: no cluster on install\n"
                                      "create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
               "-o", "Dpkg::Options::=--force-confold", "postgresql"]
    _say("installing Debian's postgresql (apt-get) ...")
    installed = subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0
    if not installed:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        installed = subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0
    _stop_clusters_started_by_install()
    return installed


def _stop_clusters_started_by_install() -> None:
    """Where the machine's own settings made the package create and start a cluster, stop it:
    the test run leaves nothing running that it did not find running."""
    if not shutil.which("pg_lsclusters"):
        return
    listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[3] == "online":
            subprocess.run(["pg_ctlcluster", parts[0], parts[1], "stop"], stdout=subprocess.DEVNULL)


class TestCluster:
    """initdb + pg_ctl start on a free port; stop() stops it and deletes its folder."""

    __test__ = False  # not a pytest class

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kam-test-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        # initdb and postgres refuse to run as root: as root, the cluster belongs to `postgres`.
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        subprocess.run([str(self.bindir / args[0]), *args[1:]], check=True, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)

    def start(self) -> "TestCluster":
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses={PG_HOST} -c max_connections=400 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        # -t: a busy machine may take a while to finish recovery and open the port.
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "120", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres_for_tests():
    """Yields the environment for the test run: KAM_PG_PORT, or KAM_TEST_DB=sqlite."""
    if os.environ.get("KAM_TEST_DB", "").lower() == "sqlite":
        yield {"KAM_TEST_DB": "sqlite"}
        return
    if pg_answers(DEFAULT_PORT):
        _say(f"PostgreSQL: the one answering at {PG_HOST}:{DEFAULT_PORT}")
        yield {"KAM_PG_PORT": str(DEFAULT_PORT)}
        return
    bindir = find_bindir() or (find_bindir() if install_debian_postgresql() else None)
    if bindir is None:
        _say("PostgreSQL: none at 127.0.0.1:5432 and none can be installed here; testing on SQLite only")
        yield {"KAM_TEST_DB": "sqlite"}
        return
    cluster = TestCluster(bindir)
    try:
        cluster.start()
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        log = cluster.log.read_text(errors="replace")[-2000:] if cluster.log.exists() else ""
        cluster.stop()
        raise SystemExit(f"could not start a test PostgreSQL from {bindir}: {detail[0]}\n{log}") from exc
    _say(f"PostgreSQL: a test cluster from {bindir} on {PG_HOST}:{cluster.port} (stopped at the end)")
    try:
        yield {"KAM_PG_PORT": str(cluster.port)}
    finally:
        cluster.stop()


def run_with_postgres(command: list[str]) -> int:
    """Runs `command` (the test suite) with PostgreSQL found or started; returns its exit code."""
    with postgres_for_tests() as env:
        return subprocess.run(command, env={**os.environ, **env}).returncode
