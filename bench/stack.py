"""Shared helpers of the benchmarks that need the local stack: PostgreSQL databases and topics
created for one run and removed at its end."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine, text

from databus.contracts import bindings
from databus.kafka_admin import apply_topics
from databus.schema_admin import RegistryAdmin, register_all
from databus.security.client import secured
from databus.settings import Settings
from databus.stack.state import StackState
from databus.topology.topics import Topics
from schemas.avro_files import AVRO_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def server_url(given: str | None, settings: Settings) -> str:
    """The PostgreSQL server to use: `given`, else the local stack's."""
    if given:
        return given
    state = StackState.load(settings.stack_dir)
    url = state.database_url("postgres") if state else None
    if not url:
        raise SystemExit(
            "no PostgreSQL: pass --database-url or start it with `databus stack up --all`"
        )
    return url


@contextmanager
def fresh_database(server: str, name: str) -> Iterator[str]:
    """A new database on the server of `server`; dropped on exit."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def psycopg_dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq connection string."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def bench_topics(settings: Settings, names: Sequence[str]) -> Iterator[None]:
    """Create these topics of the topology (with the settings' prefix) and register their
    schemas; delete the topics on exit."""
    topics = Topics.from_settings(settings)
    wanted = set(names)
    specs = [spec for spec in topics.specs() if spec.name in wanted]
    missing = wanted - {spec.name for spec in specs}
    if missing:
        raise ValueError(f"not topics of the topology: {sorted(missing)}")
    endpoints = settings.endpoints
    apply_topics(endpoints.bootstrap_servers, specs)
    try:
        register_all(
            RegistryAdmin(endpoints.registry_url),
            [b for b in bindings(topics) if b.topic in wanted],
            AVRO_DIR,
        )
        yield
    finally:
        delete_topics(endpoints.bootstrap_servers, list(wanted))


def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete topics, reporting (not raising) what could not be deleted."""
    admin = AdminClient(secured({"bootstrap.servers": bootstrap}))
    for future in admin.delete_topics(names).values():
        try:
            future.result(timeout=30)
        except Exception as exc:  # cleanup only
            print(f"  (could not delete a bench topic: {type(exc).__name__})")


def component_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a component process (`databus run ...`) on the settings' endpoints,
    topic prefix and topology, plus `extra` variables."""
    endpoints = settings.endpoints
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABUS_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "DATABUS_REGISTRY_URL": endpoints.registry_url,
        "DATABUS_TOPIC_PREFIX": settings.topic_prefix,
        "DATABUS_TOPOLOGY": str(settings.topology.resolve()),
        **extra,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux; 0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")
