"""The sector router through real Kafka: each sector's topic carries only what it may see."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from confluent_kafka import Producer

from databus.registry import registry_client
from databus.serde import Decoder, Encoder
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.topics import Topics
from schemas.domain import make_pin
from schemas.models.citizen import Citizen
from schemas.models.downstream import DataUsage, PopulationChange, SectorProjection
from tests.population_harness import PROJECT_ROOT, wait_until, worker_env

NOW = datetime(2025, 8, 4, 3, 0, tzinfo=UTC)


def _change(pin: str, version: int, fields: list[str], event_type: str) -> PopulationChange:
    citizen = Citizen.model_validate(
        {
            "pin": pin,
            "family_name": "Nguyễn",
            "given_name": "Ánh",
            "date_of_birth": "1990-03-14",
            "sex": "FEMALE",
            "nationalities": ["VN"],
            "household_id": "HK1",
            "blood_type": "O_POS",
        }
    )
    return PopulationChange(
        pin=pin,
        version=version,
        event_id=uuid.uuid4(),
        event_type=event_type,
        source="VN/GOV/BTP/hotich",
        changed_fields=fields,
        occurred_at=NOW,
        applied_at=NOW,
        citizen=citizen,
    )


def test_changes_reach_exactly_the_sectors_allowed_to_see_them(
    bus_ready: Settings, tmp_path: Path
) -> None:
    topics = Topics.from_settings(bus_ready)
    registry = registry_client(bus_ready.endpoints.registry_url)
    pin = make_pin("001", date(1990, 3, 14), "FEMALE", 77)
    changes = [
        _change(pin, 1, ["family_name", "given_name"], "BirthRegistered"),
        _change(pin, 2, ["household_id"], "PermanentResidenceRegistered"),
        _change(pin, 3, ["blood_type"], "CivilStatusChanged"),
    ]
    encoder = Encoder(registry, topics.population_changes, "PopulationChange")
    producer = Producer({"bootstrap.servers": bus_ready.endpoints.bootstrap_servers})
    for change in changes:
        producer.produce(topics.population_changes, encoder.encode(change), pin)
    producer.produce(topics.population_changes, b"\x07not avro", pin)  # poison
    assert producer.flush(10) == 0

    log = tmp_path / "router.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "router",
            "--group",
            f"{bus_ready.topic_prefix}router",
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(bus_ready),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    bootstrap = bus_ready.endpoints.bootstrap_servers
    try:
        wait_until(
            lambda: len(read_all(bootstrap, topics.data_usage)) >= 6,
            90,
            "the releases",
            process,
            log,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)

    def versions(sector: str) -> list[int]:
        decoder = Decoder(registry, topics.sector_topic(sector), SectorProjection)
        return [
            cast(SectorProjection, decoder.decode(m.value())).version
            for m in read_all(bootstrap, topics.sector_topic(sector))
        ]

    # Version 1 enters every sector; household_id only social insurance; blood type only health.
    assert versions("social-insurance") == [1, 2]
    assert versions("tax") == [1]
    assert versions("mobile-subscribers") == [1]
    assert versions("health") == [1, 3]
    health = Decoder(registry, topics.sector_topic("health"), SectorProjection)
    for message in read_all(bootstrap, topics.sector_topic("health")):
        projection = cast(SectorProjection, health.decode(message.value()))
        assert projection.citizen.model_dump()["household_id"] is None  # never to health
    usage = Decoder(registry, topics.data_usage, DataUsage)
    trail = [
        cast(DataUsage, usage.decode(m.value())) for m in read_all(bootstrap, topics.data_usage)
    ]
    assert sorted((u.sector, u.citizen_version) for u in trail) == [
        ("health", 1),
        ("health", 3),
        ("mobile-subscribers", 1),
        ("social-insurance", 1),
        ("social-insurance", 2),
        ("tax", 1),
    ]
    assert all(u.legal_basis for u in trail)
    assert len(read_all(bootstrap, topics.dead_letter)) == 1

    # The usage trail: stored by the recorder (a repeated release is stored once), listed by
    # `databus usage PIN`, newest first.
    audit = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    recorder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "usage-recorder",
            "--database-url",
            audit,
            "--group",
            f"{bus_ready.topic_prefix}usage",
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(bus_ready),
        stdout=(tmp_path / "usage.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    listing: list[dict[str, object]] = []

    def listed() -> bool:
        nonlocal listing
        out = subprocess.run(
            [sys.executable, "-m", "cli", "usage", pin, "--database-url", audit, "--json"],
            cwd=PROJECT_ROOT,
            env=worker_env(bus_ready),
            capture_output=True,
            text=True,
            check=True,
        )
        listing = json.loads(out.stdout)
        return len(listing) == 6

    try:
        wait_until(listed, 60, "the usage trail", recorder, tmp_path / "usage.log")
    finally:
        os.killpg(recorder.pid, signal.SIGTERM)
        recorder.wait(30)
    listed_versions = [int(str(row["citizen_version"])) for row in listing]
    assert listed_versions == sorted(listed_versions, reverse=True)
    assert {row["sector"] for row in listing} == {
        "social-insurance",
        "tax",
        "health",
        "mobile-subscribers",
    }
