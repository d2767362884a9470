"""The population-sync worker (faust, real Kafka, real PostgreSQL): poison records."""

from __future__ import annotations

import copy
import io
import os
import struct
import uuid
from datetime import date
from pathlib import Path

import fastavro
from confluent_kafka import Producer
from sqlalchemy import create_engine, func, select

from databus.dead_letter import H_OFFSET, H_REASON
from databus.population.schema import applied_events, citizens
from databus.registry import registry_client, value_subject
from databus.settings import Settings
from databus.topic_reader import header, read_all
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.avro_files import schema_dict
from schemas.codec import to_datum
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from tests.population_harness import applied_count, start_worker, stop_worker, wait_until


def _birth(i: int) -> dict[str, object]:
    event = copy.deepcopy(EXAMPLES["BirthRegistered"])
    dob = date(2000 + i % 20, 1 + i % 12, 1 + i % 28)
    event["event_id"] = str(uuid.uuid4())
    event["subject_pin"] = make_pin("001", dob, "FEMALE", 100_000 + i)
    event["payload"].update(date_of_birth=dob.isoformat(), father=None, mother=None)
    return event


def test_poison_records_are_dead_lettered_and_good_ones_applied(
    bus_ready: Settings, pg_url: str, tmp_path: Path
) -> None:
    topics = Topics.from_settings(bus_ready)
    topic = topics.source_topic("civil-status")
    good = [_birth(i) for i in range(60)]
    with Publisher.for_source("civil-status", settings=bus_ready, heartbeats=False) as publisher:
        first = [publisher.publish(e) for e in good[:30]]
        assert publisher.flush(30).complete
        schema_id = (
            registry_client(bus_ready.endpoints.registry_url)
            .get_latest_version(value_subject(topic))
            .schema_id
        )
        assert schema_id is not None
        bad = publisher.validate(_birth(999))
        datum = to_datum(bad)
        datum["subject_pin"] = "003" + bad.subject_pin[3:]  # unknown province: fails validation
        body = io.BytesIO()
        fastavro.schemaless_writer(
            body, fastavro.parse_schema(schema_dict("CivilStatusEvent")), datum
        )
        raw = Producer({"bootstrap.servers": bus_ready.endpoints.bootstrap_servers})
        poison = {
            "random_bytes": b"\x07" + os.urandom(40),
            "unknown_schema_id": b"\x00" + struct.pack(">I", 987_654) + body.getvalue(),
            "validation_failed": struct.pack(">bI", 0, schema_id) + body.getvalue(),
        }
        for value in poison.values():
            raw.produce(topic, value, b"001090000001")
        assert raw.flush(10) == 0
        second = [publisher.publish(e) for e in good[30:]]
        assert publisher.flush(30).complete
    assert all(f.result(0) for f in first + second)

    engine = create_engine(pg_url)
    log = tmp_path / "worker.log"
    worker = start_worker(bus_ready, pg_url, log)
    try:
        wait_until(
            lambda: applied_count(engine) == len(good), 120, "every good event applied", worker, log
        )
        dead = wait_for_dead_letters(bus_ready, topics.dead_letter, len(poison))
    finally:
        stop_worker(worker)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(citizens)).scalar() == len(good)
        applied: set[str] = set(conn.scalars(select(applied_events.c.event_id)))
    assert applied == {e["event_id"] for e in good}
    reasons = sorted(header(m, H_REASON) for m in dead)
    assert reasons == ["bad_magic_byte", "unknown_schema_id", "validation_failed"]
    assert all(header(m, H_OFFSET) for m in dead)
    assert all(m.key() == b"001090000001" for m in dead)
    messages = [header(m, "dlq.message") for m in dead]
    assert not any(bad.subject_pin in text for text in messages)
    engine.dispose()


def wait_for_dead_letters(settings: Settings, topic: str, count: int) -> list:  # type: ignore[type-arg]
    found: list = []  # type: ignore[type-arg]

    def enough() -> bool:
        nonlocal found
        found = read_all(settings.endpoints.bootstrap_servers, topic)
        return len(found) >= count

    wait_until(enough, 60, f"{count} dead letters")
    return found
