"""Static checks of the deployment artefacts: docker-compose.yml, the service Dockerfiles, the
console's Dockerfile (web/Dockerfile), .dockerignore and the kustomize base in deploy/k8s/base.

No Docker, no cluster, no network: the files are parsed and the wiring a deploy depends on
(ports, databases, broker address, health checks, probes, routes) is asserted, so removing
or mistyping any of it fails here rather than at `docker compose up` / `kubectl apply`.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from kam_shared.gateway import ROUTES
from kam_shared.kafka_acls import acl_script, own_topic, password_variable, service_acls, strimzi_users
from kam_shared.services import SERVICES as SERVICE_INFO

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_BASE = ROOT / "deploy" / "k8s" / "base"
INIT_SQL = ROOT / "deploy" / "postgres" / "init-databases.sh"
ENV_EXAMPLE = ROOT / ".env.example"
ACLS = ROOT / "deploy" / "kafka" / "acls.sh"
KAFKA_USERS = ROOT / "deploy" / "k8s" / "kafka" / "kafka-users.yaml"
# ${VAR:?message}: compose refuses to start while VAR is unset or empty, and says why.
REQUIRED_VAR = re.compile(r"\$\{(\w+):\?[^}]*\}")

PORTS = {"account-svc": 8001, "opportunity-svc": 8002, "forecast-svc": 8003, "team-svc": 8004}
SERVICES = list(PORTS)
DATABASES = {svc: f"kam_{svc.removesuffix('-svc')}" for svc in SERVICES}

# The gateway's route table is the Ingress's (kam_shared.gateway); `/` goes to the console, last.
INGRESS_ROUTES = {**dict(ROUTES), "/": "console"}
CONSOLE_PORT = 8000

# Settings every service container must get (kam_shared.settings field names, upper-cased).
COMMON_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_IDEMPOTENCE",
    "KAFKA_TOPIC_PARTITIONS",
    "KAFKA_REPLICATION_FACTOR",
    "HOST",
    "LOG_LEVEL",
    "KAM_JWKS_URL",
    "KAM_ACCOUNT_SVC_URL",
    "KAM_OPPORTUNITY_SVC_URL",
    "KAM_TEAM_SVC_URL",
}
SERVICE_URLS = {
    "KAM_JWKS_URL": "http://team-svc:8004/.well-known/jwks.json",
    "KAM_ACCOUNT_SVC_URL": "http://account-svc:8001",
    "KAM_OPPORTUNITY_SVC_URL": "http://opportunity-svc:8002",
    "KAM_TEAM_SVC_URL": "http://team-svc:8004",
}


# --------------------------------------------------------------------------- helpers


def env_dict(environment) -> dict[str, str]:
    """Compose `environment` in either form (mapping or list of KEY=VALUE) as str → str."""
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in environment.items()}
    out = {}
    for item in environment:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def published_ports(service: dict) -> set[tuple[int, int]]:
    """(host port, container port) pairs from short ("[ip:]8001:8001") or long syntax."""
    pairs = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:
            pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def healthcheck_text(service: dict) -> str:
    hc = service.get("healthcheck")
    assert hc, "no healthcheck"
    assert not hc.get("disable"), "healthcheck disabled"
    test = hc.get("test")
    assert test, "healthcheck has no test"
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test must run a command: {test}"
        return " ".join(str(t) for t in test[1:])
    return str(test)


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions, buf = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not buf):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        keyword, _, args = buf.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        buf = ""
    assert not buf, f"{path}: dangling line continuation"
    return instructions


def exec_form(args: str) -> list[str]:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        pytest.fail(f"expected exec (JSON array) form, got: {args}")
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def load_k8s_docs() -> list[tuple[Path, dict]]:
    docs = []
    for path in sorted(K8S_BASE.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path, doc))
    return docs


# --------------------------------------------------------------------------- fixtures


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def interpolated_compose() -> str:
    """docker-compose.yml as compose sees it with a filled-in .env (each variable its own fake value)."""
    return REQUIRED_VAR.sub(lambda m: f"fake-{m.group(1).lower().replace('_', '-')}", COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml missing"
    data = yaml.safe_load(interpolated_compose())
    assert isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict]:
    by_kind_name: dict[tuple[str, str], dict] = {}
    for path, doc in load_k8s_docs():
        if doc.get("kind") == "Kustomization":
            continue
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in by_kind_name, f"{key} defined twice (second in {path.name})"
        by_kind_name[key] = doc
    return by_kind_name


def init_sql_databases() -> set[str]:
    """kam_<svc> for each service the init script's loop creates a role and a database for."""
    text = INIT_SQL.read_text()
    loop = re.search(r"^for svc in ([\w ]+); do", text, re.M)
    assert loop, "init script: no `for svc in …; do` loop"
    assert re.search(r'CREATE ROLE :"role" LOGIN', text) and re.search(r'CREATE DATABASE :"db" OWNER :"role"', text)
    assert 'role="kam_$svc"' in text and 'db="kam_$svc"' in text
    return {f"kam_{svc}" for svc in loop.group(1).split()}


# --------------------------------------------------------------------------- compose


def test_compose_kafka_is_single_node_kraft_without_auto_create(compose):
    kafka = compose["services"].get("kafka")
    assert kafka, "no kafka service"
    assert kafka["image"].startswith("apache/kafka:"), kafka["image"]
    env = env_dict(kafka.get("environment"))
    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env.get("CLUSTER_ID")
    assert "kafka-broker-api-versions" in healthcheck_text(kafka) or "kafka-topics" in healthcheck_text(kafka)


def test_compose_postgres_16_creates_the_four_databases(compose):
    pg = compose["services"].get("postgres")
    assert pg, "no postgres service"
    assert re.match(r"postgres:16(\b|[.-])", pg["image"]), pg["image"]
    assert "pg_isready" in healthcheck_text(pg)
    mounts = [str(v) for v in pg.get("volumes", [])]
    assert any(
        m.split(":")[0] == "./deploy/postgres/init-databases.sh"
        and m.split(":")[1].startswith("/docker-entrypoint-initdb.d/")
        for m in mounts
    ), f"init script not mounted into /docker-entrypoint-initdb.d: {mounts}"
    assert INIT_SQL.is_file()
    assert init_sql_databases() >= set(DATABASES.values())


@pytest.mark.parametrize("svc", SERVICES)
def test_compose_service_wiring(compose, svc):
    services = compose["services"]
    assert svc in services, f"no {svc} in docker-compose.yml"
    service = services[svc]
    port = PORTS[svc]
    env = env_dict(service.get("environment"))

    assert service["build"]["context"] in (".", "./")
    assert service["build"]["dockerfile"] == f"services/{svc}/Dockerfile"

    # Its own database on the compose postgres, via asyncpg.
    url = urlsplit(env["DATABASE_URL"])
    assert url.scheme == "postgresql+asyncpg", env["DATABASE_URL"]
    assert url.hostname == "postgres"
    assert url.path.lstrip("/") == DATABASES[svc]

    # The broker address is one the kafka service advertises to containers.
    kafka_env = env_dict(services["kafka"]["environment"])
    advertised = kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    for server in env["KAFKA_BOOTSTRAP_SERVERS"].split(","):
        assert server.split(":")[0] == "kafka", server
        assert f"//{server}" in advertised, f"{server} not in {advertised}"
    assert env["KAFKA_IDEMPOTENCE"] == "true"

    assert COMMON_ENV <= env.keys(), f"missing env: {COMMON_ENV - env.keys()}"
    assert env["HOST"] == "0.0.0.0"  # settings default to loopback: unreachable in a container
    for key, value in SERVICE_URLS.items():
        assert env[key] == value, key

    assert env["PORT"] == str(port)
    assert (port, port) in published_ports(service), service.get("ports")

    hc = healthcheck_text(service)
    assert "/healthz" in hc and str(port) in hc, hc

    depends = service.get("depends_on")
    assert isinstance(depends, dict), "depends_on must use the long form with conditions"
    for dep in ("kafka", "postgres"):
        assert depends.get(dep, {}).get("condition") == "service_healthy", f"{svc} → {dep}"


def test_compose_databases_are_distinct(compose):
    urls = [env_dict(compose["services"][s]["environment"])["DATABASE_URL"] for s in SERVICES]
    names = [urlsplit(u).path.lstrip("/") for u in urls]
    assert len(set(names)) == len(SERVICES), names
    assert set(names) <= init_sql_databases()


def test_compose_team_svc_auth_settings(compose):
    team = compose["services"]["team-svc"]
    env = env_dict(team["environment"])
    assert env["KAM_BOOTSTRAP_ADMIN_EMAIL"] == "fake-kam-bootstrap-admin-email"  # from .env
    assert env["KAM_BOOTSTRAP_ADMIN_PASSWORD"] == "fake-kam-bootstrap-admin-password"
    key_dir = str(Path(env["KAM_JWT_PRIVATE_KEY_FILE"]).parent)
    named = set(compose.get("volumes") or {})
    mounts = [str(v).split(":") for v in team.get("volumes", [])]
    assert any(m[0] in named and m[1] == key_dir for m in mounts), (
        f"JWT key dir {key_dir} not on a named volume: {team.get('volumes')}"
    )


# --------------------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("svc", SERVICES)
def test_dockerfile(svc):
    path = ROOT / "services" / svc / "Dockerfile"
    assert path.is_file(), f"{path} missing"
    instructions = dockerfile_instructions(path)
    by_kind: dict[str, list[str]] = {}
    for kind, args in instructions:
        by_kind.setdefault(kind, []).append(args)

    assert by_kind["FROM"], "no FROM"
    for base in by_kind["FROM"]:
        assert base.split()[0] == "python:3.11-slim", base

    runs = " ; ".join(by_kind.get("RUN", []))
    assert re.search(r"pip install[^;]*\buv\b", runs), "uv not installed with pip"
    syncs = [r for r in by_kind.get("RUN", []) if "uv sync" in r]
    full_sync = [r for r in syncs if "--no-install-workspace" not in r]
    assert full_sync, "no `uv sync` that installs the workspace package"
    for flag in ("--frozen", "--no-dev", f"--package {svc}"):
        assert all(flag in r for r in syncs), f"uv sync without {flag}"

    copied = " ".join(by_kind.get("COPY", []))
    for needed in ("pyproject.toml", "uv.lock", "shared/", "services/"):
        assert needed in copied, f"{needed} not copied"

    users = by_kind.get("USER", [])
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"runs as root: {users}"

    assert str(PORTS[svc]) in " ".join(by_kind.get("EXPOSE", [])).split()

    healthchecks = by_kind.get("HEALTHCHECK", [])
    assert len(healthchecks) == 1 and "CMD" in healthchecks[0], healthchecks
    assert "urllib" in healthchecks[0] and "/healthz" in healthchecks[0]

    cmd = exec_form(by_kind["CMD"][-1])
    assert Path(cmd[0]).name == "kam" and cmd[1:] == ["serve", svc], cmd


def test_dockerignore_keeps_local_state_out():
    entries = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".venv", ".tools", "var", ".git"):
        assert needed in entries, needed
    assert "**/__pycache__" in entries


# --------------------------------------------------------------------------- kubernetes


def test_kustomization_lists_every_resource_file():
    kustomization = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())
    listed = kustomization.get("resources", [])
    assert len(listed) == len(set(listed)), "duplicate resources"
    for name in listed:
        assert (K8S_BASE / name).is_file(), f"kustomization lists missing file {name}"
    present = {p.name for p in K8S_BASE.glob("*.y*ml")} - {"kustomization.yaml", "kustomization.yml"}
    assert present == set(listed), f"not listed: {present - set(listed)}"


def test_config_map(k8s):
    cm = k8s.get(("ConfigMap", "kam-config"))
    assert cm, "no ConfigMap kam-config"
    data = cm["data"]
    assert COMMON_ENV <= data.keys(), f"missing: {COMMON_ENV - data.keys()}"
    assert data["KAFKA_IDEMPOTENCE"] == "true"
    assert data["HOST"] == "0.0.0.0"
    for key, value in SERVICE_URLS.items():
        assert data[key] == value, key


def _container_port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    pytest.fail(f"named port {port!r} not declared on container {container['name']}")


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}




@pytest.mark.parametrize("svc", SERVICES)
def test_k8s_deployment(k8s, svc):
    port = PORTS[svc]
    deployment = k8s.get(("Deployment", svc))
    assert deployment, f"no Deployment {svc}"
    pod = deployment["spec"]["template"]["spec"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()

    containers = {c["name"]: c for c in pod["containers"]}
    assert svc in containers, f"no container named {svc}"
    app = containers[svc]
    assert _container_port(app, "http") == port

    readiness, liveness = app.get("readinessProbe"), app.get("livenessProbe")
    assert readiness and readiness["httpGet"]["path"] == "/readyz"
    assert _container_port(app, readiness["httpGet"]["port"]) == port
    assert liveness and liveness["httpGet"]["path"] == "/healthz"
    assert _container_port(app, liveness["httpGet"]["port"]) == port

    resources = app.get("resources", {})
    assert resources.get("requests", {}).get("cpu") and resources.get("requests", {}).get("memory")
    assert resources.get("limits", {}).get("memory")

    config_maps = [e["configMapRef"]["name"] for e in app.get("envFrom", []) if "configMapRef" in e]
    assert "kam-config" in config_maps
    env = _env(app)
    assert env["PORT"]["value"] == str(port)
    db_ref = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    # The service's own Secret (created beforehand; the base ships none), never a shared one.
    assert db_ref == {"name": f"kam-{svc}", "key": "database-url"}, db_ref
    assert env["KAFKA_SASL_USERNAME"]["value"] == svc
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": f"kam-{svc}", "key": "kafka-password"}
    if "command" in app:  # else the image's CMD (checked in test_dockerfile)
        assert Path(app["command"][0]).name == "kam" and app["command"][1:3] == ["serve", svc]

    # Migrations in an initContainer, against the same database.
    migrate = [c for c in pod.get("initContainers", []) if c.get("command", [])[-2:] == ["migrate", svc]]
    assert migrate, f"no initContainer running `kam migrate {svc}`"
    assert Path(migrate[0]["command"][0]).name == "kam"
    assert migrate[0]["image"] == app["image"]
    assert _env(migrate[0])["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == db_ref
    assert "kam-config" in [e["configMapRef"]["name"] for e in migrate[0].get("envFrom", []) if "configMapRef" in e]


def test_k8s_database_urls_are_distinct(k8s):
    refs = [
        _env(k8s[("Deployment", s)]["spec"]["template"]["spec"]["containers"][0])["DATABASE_URL"]
        ["valueFrom"]["secretKeyRef"]["name"]
        for s in SERVICES
    ]
    assert len(set(refs)) == len(SERVICES), refs


@pytest.mark.parametrize("svc", SERVICES)
def test_k8s_service_and_hpa(k8s, svc):
    service = k8s.get(("Service", svc))
    assert service, f"no Service {svc}"
    ports = service["spec"]["ports"]
    assert [p["port"] for p in ports] == [PORTS[svc]]
    deployment = k8s[("Deployment", svc)]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == svc)
    assert _container_port(container, ports[0].get("targetPort", ports[0]["port"])) == PORTS[svc]

    hpa = k8s.get(("HorizontalPodAutoscaler", svc))
    assert hpa, f"no HorizontalPodAutoscaler {svc}"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", svc)
    assert 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]


def test_k8s_team_svc_mounts_jwt_key_secret(k8s):
    pod = k8s[("Deployment", "team-svc")]["spec"]["template"]["spec"]
    app = next(c for c in pod["containers"] if c["name"] == "team-svc")
    env = _env(app)
    key_dir = str(Path(env["KAM_JWT_PRIVATE_KEY_FILE"]["value"]).parent)
    mount = next((m for m in app.get("volumeMounts", []) if m["mountPath"] == key_dir), None)
    assert mount, f"nothing mounted at {key_dir}"
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert "secret" in volume, "JWT key must come from a Secret shared by all replicas"
    assert env["KAM_BOOTSTRAP_ADMIN_EMAIL"]["value"]
    pw_ref = env["KAM_BOOTSTRAP_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert pw_ref == {"name": "kam-team-svc", "key": "bootstrap-admin-password"}


def test_k8s_ingress_routes_by_prefix(k8s):
    ingresses = [doc for (kind, _), doc in k8s.items() if kind == "Ingress"]
    assert len(ingresses) == 1, "expected one Ingress"
    routes = {}
    for rule in ingresses[0]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["pathType"] == "Prefix", path
            backend = path["backend"]["service"]
            assert path["path"] not in routes, f"{path['path']} routed twice"
            routes[path["path"]] = (backend["name"], backend["port"]["number"])
    ports = {**PORTS, "console": CONSOLE_PORT}
    assert routes == {prefix: (svc, ports[svc]) for prefix, svc in INGRESS_ROUTES.items()}
    assert list(routes)[-1] == "/", "the console's catch-all comes last"


def test_k8s_console_deployment_and_service(k8s):
    deployment = k8s.get(("Deployment", "console"))
    assert deployment, "no Deployment console"
    pod = deployment["spec"]["template"]["spec"]
    app = next(c for c in pod["containers"] if c["name"] == "console")
    assert app["image"] == "kam/console"
    assert Path(app["command"][0]).name == "kam" and app["command"][1:] == ["gateway"]
    assert "kam-config" in [e["configMapRef"]["name"] for e in app.get("envFrom", []) if "configMapRef" in e]
    env = _env(app)
    assert env["KAM_GATEWAY_PORT"]["value"] == str(CONSOLE_PORT)
    assert _container_port(app, "http") == CONSOLE_PORT
    for probe in ("readinessProbe", "livenessProbe"):
        assert app[probe]["httpGet"]["path"] == "/healthz", probe
    assert pod["securityContext"]["runAsNonRoot"] is True

    service = k8s.get(("Service", "console"))
    assert service, "no Service console"
    assert [p["port"] for p in service["spec"]["ports"]] == [CONSOLE_PORT]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    images = [i["name"] for i in yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())["images"]]
    assert "kam/console" in images


# --------------------------------------------------------------------------- the console


def test_compose_gateway_serves_the_console_and_routes_to_the_compose_services(compose):
    gateway = compose["services"].get("gateway")
    assert gateway, "no gateway service in docker-compose.yml"
    assert gateway["build"]["context"] in (".", "./") and gateway["build"]["dockerfile"] == "web/Dockerfile"
    env = env_dict(gateway.get("environment"))
    assert env["HOST"] == "0.0.0.0" and env["KAM_GATEWAY_PORT"] == str(CONSOLE_PORT)
    for svc, port in PORTS.items():
        key = f"KAM_{svc.removesuffix('-svc').upper()}_SVC_URL"
        assert env[key] == f"http://{svc}:{port}", key
        assert gateway["depends_on"][svc]["condition"] == "service_healthy", svc
    assert (CONSOLE_PORT, CONSOLE_PORT) in published_ports(gateway)
    hc = healthcheck_text(gateway)
    assert "/healthz" in hc and str(CONSOLE_PORT) in hc


def test_console_dockerfile_builds_the_console_then_runs_the_gateway():
    instructions = dockerfile_instructions(ROOT / "web" / "Dockerfile")
    stages = [args.split() for kind, args in instructions if kind == "FROM"]
    assert stages[-1][0] == "python:3.11-slim" and len(stages[-1]) == 1, "the runtime stage is the last, unnamed"
    assert any(s[0].startswith("node:20") for s in stages), "node 20 for the build"
    runs = " ; ".join(args for kind, args in instructions if kind == "RUN")
    assert "npm ci" in runs and "npm run build" in runs
    assert re.search(r"uv sync[^;]*--frozen[^;]*--all-packages", runs), "the build needs every service (OpenAPI)"
    copies = [args for kind, args in instructions if kind == "COPY"]
    assert any("web/package-lock.json" in c for c in copies), "npm ci needs the committed lock"
    assert any(c.startswith("--from=console") and "/app/web/dist" in c for c in copies)
    env = " ".join(args for kind, args in instructions if kind == "ENV")
    assert "KAM_CONSOLE_DIR=/app/web/dist" in env and "KAM_GATEWAY_PORT=8000" in env and "HOST=0.0.0.0" in env
    users = [args for kind, args in instructions if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert str(CONSOLE_PORT) in " ".join(args for kind, args in instructions if kind == "EXPOSE").split()
    healthchecks = [args for kind, args in instructions if kind == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/healthz" in healthchecks[0]
    cmd = exec_form([args for kind, args in instructions if kind == "CMD"][-1])
    assert Path(cmd[0]).name == "kam" and cmd[1:] == ["gateway"]


def test_dockerignore_keeps_a_local_console_build_out():
    entries = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"web/node_modules", "web/dist"} <= entries
    assert "web" not in entries and "web/" not in entries


# --------------------------------------------------------------------------- safe by default (issue 13 item 5)


def test_no_password_is_committed_in_compose_or_the_env_example():
    raw = COMPOSE_FILE.read_text()
    used = set(REQUIRED_VAR.findall(raw))
    # Every ${…} is a required one (compose stops and names it), and the example documents each.
    assert len(re.findall(r"\$\{", raw)) == len(REQUIRED_VAR.findall(raw)), "a ${VAR} without :? (silent default)"
    example = env_example()
    assert used == set(example), f"not in .env.example: {used - set(example)}; unused: {set(example) - used}"
    assert all(value == "" for value in example.values()), "the .env example must not carry values"
    assert ".env" in (ROOT / ".gitignore").read_text().split(), ".env must be git-ignored"
    data = yaml.safe_load(raw)
    for name, service in data["services"].items():
        for key, value in env_dict(service.get("environment")).items():
            if re.search(r"PASSWORD|SECRET", key) or key == "DATABASE_URL":
                assert REQUIRED_VAR.search(value), f"{name}: {key} is not taken from .env: {value}"
    assert "postgres:postgres@" not in raw


def test_compose_publishes_every_port_on_loopback_only():
    data = yaml.safe_load(interpolated_compose())
    for name, service in data["services"].items():
        for entry in service.get("ports", []):
            if isinstance(entry, dict):
                assert entry.get("host_ip") == "127.0.0.1", f"{name}: {entry}"
            else:
                assert str(entry).startswith("127.0.0.1:"), f"{name}: {entry} is published on every interface"


def test_one_postgres_role_per_service_owning_only_its_database(compose):
    users = {}
    for svc in SERVICES:
        url = urlsplit(env_dict(compose["services"][svc]["environment"])["DATABASE_URL"])
        assert url.username == DATABASES[svc], f"{svc} connects as {url.username}, not its own role"
        assert url.username != "postgres"
        users[svc] = url.username
    assert len(set(users.values())) == len(SERVICES)
    assert init_sql_databases() == set(DATABASES.values())
    text = INIT_SQL.read_text()
    assert 'REVOKE ALL ON DATABASE :"db" FROM PUBLIC' in text and "NOSUPERUSER" in text


def test_k8s_base_ships_no_secret_values():
    for path, doc in load_k8s_docs():
        assert doc.get("kind") != "Secret", f"{path.name}: the base must not ship a Secret (create it, see README)"
        text = path.read_text()
        assert "postgres:postgres@" not in text and "password:" not in text.lower().replace("kafka-password", "")


def test_kafka_users_and_acls_are_the_generated_ones():
    assert ACLS.read_text() == acl_script(), (
        "regenerate: .venv/bin/python -m kam_shared.cli kafka-acls > deploy/kafka/acls.sh")
    assert KAFKA_USERS.read_text() == strimzi_users(), (
        "regenerate: .venv/bin/python -m kam_shared.cli kafka-users > deploy/k8s/kafka/kafka-users.yaml")
    users = {d["metadata"]["name"]: d for d in yaml.safe_load_all(KAFKA_USERS.read_text())}
    assert set(users) == set(SERVICES)


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_may_write_only_its_own_topic_and_read_only_what_it_consumes(svc):
    info = SERVICE_INFO[svc]
    acls = service_acls(info)
    writes = {a.name for a in acls if a.resource == "topic" and "Write" in a.operations}
    reads = {a.name for a in acls if a.resource == "topic" and "Read" in a.operations}
    assert writes == {own_topic(info), *(f"{t}.dlq" for t in info.consumes)}
    assert reads == set(info.consumes)
    assert {a.name for a in acls if a.resource == "group" and "Read" in a.operations} == {svc}
    assert not any(a.name.endswith("*") or a.name == "*" for a in acls)
    # The same ACLs in the script (compose) and the KafkaUser (Kubernetes).
    script = ACLS.read_text()
    for topic in writes:
        pattern = rf"User:{svc} (--operation \w+ )*--operation Write (--operation \w+ )*--topic {re.escape(topic)}$"
        assert re.search(pattern, script, re.M), topic
    other_topics = {own_topic(s) for s in SERVICE_INFO.values()} - {own_topic(info)}
    for line in script.splitlines():
        if f"User:{svc} " in line and "--operation Write" in line:
            assert not any(line.endswith(f"--topic {t}") for t in other_topics), line
    user = next(d for d in yaml.safe_load_all(KAFKA_USERS.read_text()) if d["metadata"]["name"] == svc)
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    written = {a["resource"]["name"] for a in user["spec"]["authorization"]["acls"] if "Write" in a["operations"]}
    assert written == writes


def test_compose_kafka_uses_scram_and_acls(compose):
    kafka = compose["services"]["kafka"]
    env = env_dict(kafka["environment"])
    protocols = dict(pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = dict((entry.split("://")[0], entry.split("://")[1]) for entry in env["KAFKA_LISTENERS"].split(","))
    for name, address in listeners.items():  # anything reachable from outside the container authenticates
        if not address.startswith("localhost:"):
            assert protocols[name] == "SASL_PLAINTEXT", (name, address)
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert "./deploy/kafka/acls.sh" in " ".join(str(v) for v in kafka["volumes"])
    for svc in SERVICES:
        service_env = env_dict(compose["services"][svc]["environment"])
        assert service_env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert service_env["KAFKA_SASL_USERNAME"] == svc
        variable = password_variable(SERVICE_INFO[svc])
        assert service_env["KAFKA_SASL_PASSWORD"] == env[variable] == f"fake-{variable.lower().replace('_', '-')}"


def test_k8s_network_policies_deny_by_default_and_open_only_what_is_needed(k8s):
    policies = {name: doc for (kind, name), doc in k8s.items() if kind == "NetworkPolicy"}
    deny = policies.get("kam-default-deny")
    assert deny and deny["spec"]["podSelector"] == {} and set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    for svc in [*SERVICES, "console"]:
        policy = policies.get(svc)
        assert policy, f"no NetworkPolicy for {svc}"
        assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": svc}
        sources = [src for rule in policy["spec"]["ingress"] for src in rule["from"]]
        assert any("namespaceSelector" in src for src in sources), f"{svc}: the Ingress controller cannot reach it"
        assert all(set(src) <= {"namespaceSelector", "podSelector"} for src in sources)
        egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
        if svc != "console":
            assert {5432, 9093, 53} <= egress_ports, egress_ports
            assert egress_ports <= {53, 5432, 9093, *PORTS.values()}, egress_ports


def test_k8s_ingress_terminates_tls(k8s):
    ingress = next(doc for (kind, _), doc in k8s.items() if kind == "Ingress")
    tls = ingress["spec"]["tls"]
    assert tls and tls[0]["secretName"] == "kam-tls"
    assert {rule["host"] for rule in ingress["spec"]["rules"]} <= set(tls[0]["hosts"])
    assert k8s[("ConfigMap", "kam-config")]["data"]["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
