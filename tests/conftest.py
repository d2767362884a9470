"""Shared fixtures: the real local stack, started once per run (or reused), and per-test names.

Integration tests (marker `integration`) get the stack; unit tests never start it.
Set DATABUS_STACK_DIR to run the suite against a stack in another directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from databus.settings import Settings
from databus.stack.launcher import Stack
from databus.stack.parts import PARTS
from databus.stack.state import StackState
from tests.cluster_harness import cluster, pg_cluster_databases  # noqa: F401 - cluster fixtures
from tests.secure_harness import secure_bus, secure_stack  # noqa: F401 - the secure stack's fixtures
from tests.stack_access import StackAddresses, fresh_databases

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LocalStack(StackAddresses):
    """Addresses of the running stack, as tests need them."""

    stack_dir: Path
    state: StackState

    @property
    def bootstrap(self) -> str:
        url = self.state.kafka_bootstrap()
        assert url
        return url


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """Kafka, registry, PostgreSQL and MariaDB: reused when already up, else started here.

    At the end of the run, only the parts this run started are stopped.
    """
    stack_dir = Path(os.environ.get("DATABUS_STACK_DIR", PROJECT_ROOT / ".stack"))
    stack = Stack(stack_dir, Settings().cache_dir)
    already = stack.running()
    state = stack.up(list(PARTS), report=lambda line: print(f"[stack] {line}"))
    try:
        yield LocalStack(stack_dir=stack.stack_dir, state=state)
    finally:
        started = set(PARTS) - already
        if started:
            stack.down(started, report=lambda line: print(f"[stack] {line}"))


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, put before every topic name it derives."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def bus_settings(local_stack: LocalStack, topic_prefix: str) -> Settings:
    """Settings pointing at the running stack, with this test's own topic names."""
    return Settings(
        bootstrap_servers=local_stack.bootstrap,
        registry_url=local_stack.registry_url,
        topology=PROJECT_ROOT / "deploy" / "topology.yaml",
        topic_prefix=topic_prefix,
        stack_dir=local_stack.stack_dir,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/integration is an integration test, marked or not."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def bus_ready(bus_settings: Settings) -> Settings:
    """`bus_settings` with every topic of the topology created and every schema registered."""
    from databus.contracts import bindings
    from databus.kafka_admin import apply_topics
    from databus.schema_admin import RegistryAdmin, register_all
    from databus.topology.topics import Topics
    from schemas.avro_files import AVRO_DIR

    topics = Topics.from_settings(bus_settings)
    endpoints = bus_settings.endpoints
    apply_topics(endpoints.bootstrap_servers, topics.specs())
    register_all(RegistryAdmin(endpoints.registry_url), bindings(topics), AVRO_DIR)
    return bus_settings


@pytest.fixture
def pg_databases(local_stack: LocalStack) -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases for this test, all dropped afterwards."""
    with fresh_databases(local_stack.database_url("postgres"), "t_") as make:
        yield make


@pytest.fixture
def pg_url(pg_databases: Callable[[], str]) -> str:
    """A fresh PostgreSQL database of its own for this test (dropped afterwards)."""
    return pg_databases()


def settings_env(settings: Settings) -> dict[str, str]:
    """The DATABUS_* variables that make a CLI run or a child process use `settings`."""
    endpoints = settings.endpoints
    return {
        "DATABUS_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "DATABUS_REGISTRY_URL": endpoints.registry_url,
        "DATABUS_TOPIC_PREFIX": settings.topic_prefix,
        "DATABUS_TOPOLOGY": str(settings.topology),
    }


@pytest.fixture
def mariadb_url(local_stack: LocalStack) -> Iterator[str]:
    """A fresh MariaDB database of its own for this test (dropped afterwards)."""
    import sqlalchemy as sa

    base = local_stack.database_url("mariadb")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    head, _, query = base.partition("?")
    url = head.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
