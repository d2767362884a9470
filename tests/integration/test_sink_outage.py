"""A sector database unreachable for 30 s: the sink retries, skips and dead-letters nothing,
and catches up afterwards. The database is a PostgreSQL of this test's own, so stopping it
disturbs nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from confluent_kafka import Producer
from sqlalchemy import create_engine, func, select

from consumers.sink.store import create_sector_schema, sector_citizens
from databus.projection import project
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.stack.launcher import Stack
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.domain import make_pin
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange
from tests.population_harness import PROJECT_ROOT, wait_until, worker_env

SECTOR = "tax"
NOW = datetime(2025, 8, 4, 3, 0, tzinfo=UTC)


@pytest.fixture
def own_postgres(tmp_path: Path, bus_ready: Settings) -> Iterator[tuple[Stack, str]]:
    stack = Stack(tmp_path / "pg-stack", bus_ready.cache_dir)
    state = stack.up(["postgres"], report=lambda line: None)
    try:
        url = state.database_url("postgres")
        assert url
        yield stack, url
    finally:
        stack.down(report=lambda line: None)


def _projections(bus_ready: Settings, count: int, version: int) -> list[tuple[str, bytes]]:
    topology = load_topology(bus_ready.topology)
    topic = Topics.from_settings(bus_ready, topology).sector_topic(SECTOR)
    encoder = Encoder(registry_client(bus_ready.endpoints.registry_url), topic, "SectorProjection")
    out = []
    for i in range(count):
        pin = make_pin("079", date(1980, 1, 1 + i % 28), "MALE", i)
        citizen = Citizen.model_validate(
            {
                "pin": pin,
                "family_name": "Lê",
                "given_name": "Nam",
                "date_of_birth": "1980-01-01",
                "sex": "MALE",
                "nationalities": ["VN"],
                "father": {
                    "pin": None,
                    "name": {"family_name": "Lê", "given_name": ["Văn", "Hùng"][version - 1]},
                },
            }
        )
        change = PopulationChange(
            pin=pin,
            version=version,
            event_id=uuid.uuid4(),
            event_type="BirthRegistered" if version == 1 else "X",
            source="VN/GOV/BTP/hotich",
            changed_fields=["father"],
            occurred_at=NOW,
            applied_at=NOW,
            citizen=citizen,
        )
        release = project(SECTOR, topology.sectors[SECTOR], change, NOW)
        assert release is not None
        out.append((pin, encoder.encode(release.projection)))
    return out


def test_sink_rides_out_a_30_second_database_outage(
    bus_ready: Settings, own_postgres: tuple[Stack, str], tmp_path: Path
) -> None:
    stack, url = own_postgres
    topics = Topics.from_settings(bus_ready)
    producer = Producer({"bootstrap.servers": bus_ready.endpoints.bootstrap_servers})
    engine = create_engine(url, pool_pre_ping=True)
    create_sector_schema(engine)

    def at_version(version: int) -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(sector_citizens)
                    .where(sector_citizens.c.version == version)
                ).scalar()
                or 0
            )

    log = tmp_path / "sink.log"
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "sink",
            SECTOR,
            "--database-url",
            url,
            "--group",
            f"{bus_ready.topic_prefix}sink",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(bus_ready),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for pin, value in _projections(bus_ready, 500, 1):
            producer.produce(topics.sector_topic(SECTOR), value, pin)
        assert producer.flush(10) == 0
        wait_until(lambda: at_version(1) == 500, 60, "the first load", sink, log)

        engine.dispose()
        stack.stop_part("postgres")
        down_at = time.monotonic()
        try:
            for pin, value in _projections(bus_ready, 500, 2):
                producer.produce(topics.sector_topic(SECTOR), value, pin)
            assert producer.flush(10) == 0
            time.sleep(30)
            assert sink.poll() is None, log.read_text()[-2000:]
        finally:
            stack.start_part("postgres")
        outage = time.monotonic() - down_at
        wait_until(lambda: at_version(2) == 500, 120, "catching up", sink, log)
    finally:
        os.killpg(sink.pid, signal.SIGTERM)
        sink.wait(30)
    assert at_version(1) == 0
    assert read_all(bus_ready.endpoints.bootstrap_servers, topics.dead_letter) == []
    assert "unavailable; retrying" in log.read_text()
    print(f"database down {outage:.0f} s; every projection applied afterwards, none dead-lettered")
    engine.dispose()
