"""Sector sinks through real Kafka into PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
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
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.domain import make_pin
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange
from tests.population_harness import PROJECT_ROOT, wait_until, worker_env

NOW = datetime(2025, 8, 4, 3, 0, tzinfo=UTC)


def _change(pin: str, version: int, fields: list[str], **citizen: object) -> PopulationChange:
    record = Citizen.model_validate(
        {
            "pin": pin,
            "family_name": "Trần",
            "given_name": "Hằng",
            "date_of_birth": "1996-02-03",
            "sex": "FEMALE",
            "nationalities": ["VN"],
            "household_id": f"HK{version}",
            "mobile_number": "0912345678",
            **citizen,
        }
    )
    return PopulationChange(
        pin=pin,
        version=version,
        event_id=uuid.uuid4(),
        event_type="BirthRegistered" if version == 1 else "X",
        source="VN/GOV/BTP/hotich",
        changed_fields=fields,
        occurred_at=NOW,
        applied_at=NOW,
        citizen=record,
    )


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def sector_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sector.sqlite'}"
    fixture = "pg_url" if request.param == "postgres" else "mariadb_url"
    return str(request.getfixturevalue(fixture))


def test_sink_upserts_newest_versions_and_dead_letters_poison(
    bus_ready: Settings, sector_url: str, tmp_path: Path
) -> None:
    sector = "social-insurance"
    topology = load_topology(bus_ready.topology)
    topics = Topics.from_settings(bus_ready, topology)
    topic = topics.sector_topic(sector)
    encoder = Encoder(registry_client(bus_ready.endpoints.registry_url), topic, "SectorProjection")
    producer = Producer({"bootstrap.servers": bus_ready.endpoints.bootstrap_servers})
    pins = [make_pin("001", date(1996, 2, 3), "FEMALE", i) for i in range(50)]
    for pin in pins:
        for version, fields in ((1, ["family_name"]), (2, ["household_id"]), (3, ["household_id"])):
            release = project(sector, topology.sectors[sector], _change(pin, version, fields), NOW)
            assert release is not None
            producer.produce(topic, encoder.encode(release.projection), pin)
    producer.produce(topic, b"\x00\x00\x0f\x42\x40garbage", pins[0])  # unknown schema id
    assert producer.flush(10) == 0

    log = tmp_path / "sink.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "sink",
            sector,
            "--database-url",
            sector_url,
            "--group",
            f"{bus_ready.topic_prefix}sink",
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(bus_ready),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = create_engine(sector_url)
    create_sector_schema(engine)

    def synced() -> bool:
        with engine.connect() as conn:
            return conn.execute(
                select(func.count())
                .select_from(sector_citizens)
                .where(sector_citizens.c.version == 3)
            ).scalar() == len(pins)

    try:
        wait_until(synced, 90, "every citizen at version 3", process, log)
        wait_until(
            lambda: len(read_all(bus_ready.endpoints.bootstrap_servers, topics.dead_letter)) == 1,
            30,
            "the dead letter",
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    with engine.connect() as conn:
        rows = list(conn.execute(select(sector_citizens)))
    allowed = set(topology.sectors[sector].allowed_fields)
    for row in rows:
        record = json.loads(row.record)
        assert set(record) <= allowed
        assert "mobile_number" not in record  # not allowed to social insurance
        assert record["household_id"] == "HK3"
    engine.dispose()
