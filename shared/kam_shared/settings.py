"""One settings base for every service; each service subclasses it for its own fields.

Values come from environment variables (names match the field names, upper-cased), so the
same image runs under `make run`, docker-compose and Kubernetes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

# Partitions of each topic a service creates (and restores); the AsyncAPI document says the same.
TOPIC_PARTITIONS = 6

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    service_name: str = "kam"
    database_url: str = ""
    # Connections kept open per replica, and extra ones opened under bursts. An overflow
    # connection is closed when returned, and reconnecting (TLS probe, auth, start-up) costs far
    # more than a query: size the pool for the concurrency you expect, within the server's
    # max_connections across all replicas.
    database_pool_size: int = 16
    database_max_overflow: int = 8
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # How the services authenticate to Kafka (kam_shared.broker.security_kwargs). PLAINTEXT (no auth)
    # only for local brokers and tests; deployments use SASL_SSL (Kubernetes) or SASL_PLAINTEXT
    # (docker-compose's private network) with SCRAM, one user per service named after it, whose
    # ACLs let it write only its own topic and read only what it consumes (deploy/kafka/acls.sh).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    # CA bundle that signed the brokers' certificates (SSL / SASL_SSL); empty: the system's.
    kafka_ssl_cafile: str = ""
    # Apache Kafka supports the idempotent producer; the Tansu dev broker does not.
    kafka_idempotence: bool = True
    # How long a fetch may wait for data. Apache Kafka answers an idle consumer's fetch as soon as
    # data arrives, but under a steady load some of forecast-svc's fetches came back only at the end
    # of the wait with everything that had arrived meanwhile: at 2000 ms, on topic -> roll-up p99 was
    # 1.8 s under bench/forecast_scale.py's background load, at 500 and 200 ms ~0.2 s (aiokafka's
    # fetcher against Kafka 4.1; not understood further). Idle, the wait paces the polls: the four
    # services used 2.9-3.6% of a core at 500-2000 ms and 4.8-5.5% at 200 (bench/idle_cpu.py, same
    # VM, noisy). Tansu holds every fetch for the full wait, so against it a short wait is what keeps
    # event latency in milliseconds (the dev stack sets 5).
    kafka_fetch_max_wait_ms: int = 500
    kafka_topic_partitions: int = TOPIC_PARTITIONS
    kafka_replication_factor: int = 1
    # The deadline of every call on the broker from the consume loop and the outbox relay (fetch,
    # commit, seek, metadata, send): a broker that never answers must not wedge them.
    kafka_call_timeout_s: float = 10.0
    # A consumer whose offset commits fail this many times in a row is rebuilt (a new client).
    consumer_rebuild_after_failures: int = 5
    # A consumer with lag and nothing fetched or applied for this long is "not making progress":
    # /readyz answers 503 and GET /v1/admin/consumer says why.
    consumer_stall_s: float = 30.0
    # How often the outbox relay checks that the broker still holds what it published (a broker
    # that comes back empty: see kam_shared.outbox) and which events every consumer group confirmed.
    broker_check_interval_s: float = 5.0
    # Consumers retry a failing event this many times before sending it to <topic>.dlq.
    consumer_max_attempts: int = 3
    # An event whose aggregate version is more than this ahead of the replica's (or this high for an
    # aggregate never seen) goes to the DLQ as implausible (kam_shared.replicas); 0 turns the check off.
    consumer_max_version_jump: int = 1000
    outbox_batch_size: int = 200
    # The relay is kicked by every commit that writes outbox rows, so this poll only finds rows it was
    # not told about (written by another replica while it held their shard): seldom, and cheap to wait for.
    outbox_poll_interval_s: float = 2.0
    # An outbox row whose own message fails this many times is parked (kam_shared.outbox).
    outbox_max_attempts: int = 10
    # An Idempotency-Key whose request never answered is taken over by a retry after this long.
    idempotency_lease_s: float = 30.0
    # Request bodies above this many bytes are refused with 413 before they are read (kam_shared.input_guard).
    kam_max_body_bytes: int = 1024 * 1024
    # Origins allowed to call the API from a browser (comma-separated); empty: no CORS headers.
    kam_cors_allow_origins: str = ""
    # Proxies (addresses or CIDRs, comma-separated; `*` any) whose X-Forwarded-For/-Proto are believed
    # (uvicorn's forwarded-allow-ips). Empty: none, so a client cannot claim TLS or another address.
    kam_trusted_proxies: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    # Token verification: services fetch team-svc's JWKS; tests may inline a JWKS document.
    kam_jwks_url: str = "http://127.0.0.1:8004/.well-known/jwks.json"
    kam_jwks_json: str = ""
    kam_jwt_issuer: str = "kam-team-svc"
    kam_jwt_audience: str = "kam"
    kam_account_svc_url: str = "http://127.0.0.1:8001"
    kam_opportunity_svc_url: str = "http://127.0.0.1:8002"
    kam_forecast_svc_url: str = "http://127.0.0.1:8003"
    kam_team_svc_url: str = "http://127.0.0.1:8004"
    # Run consumers / relay inside the API process (the default; tests of pure HTTP may turn off).
    run_background_workers: bool = True

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = REPO_ROOT / "var" / f"{self.service_name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"
