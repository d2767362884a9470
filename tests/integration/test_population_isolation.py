"""The worker is never stopped by a published event (real Kafka, registry, PostgreSQL).

Published around good births and moves: a clerical correction of a birth's name by a
CivilStatusChanged (cross-type, applied), a residence event that claims to correct a birth
(refused: correction_type_mismatch), an annulment that would leave a citizen without a name
(refused: mandatory_field_lost), and one event that provokes an unexpected error in the apply
(the test hook DATABUS_SYNC_FAULT_EVENT_IDS; dead-lettered apply_failed with the error's type).
The worker keeps running, every good event is applied, each bad one is dead-lettered with its
reason; after the "fix" (the worker restarted without the hook) `databus dlq replay --reason
apply_failed` re-submits the isolated event and it applies.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, func, select

from cli.main import cli
from databus.dead_letter import H_CONSUMER, H_ERROR_CLASS, H_MESSAGE, H_REASON
from databus.population.schema import (
    applied_events,
    citizens,
    create_population_schema,
    parked_events,
)
from databus.settings import Settings
from databus.topic_reader import header, read_all
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.domain import make_pin
from schemas.models.envelope import Event
from streams.population.isolation import FAULT_ENV
from tests.conftest import settings_env
from tests.population_events import T0, birth, event, name_change
from tests.population_harness import applied_count, start_worker, stop_worker, wait_until

PINS = [make_pin("001", date(2024, 5, 17), "FEMALE", 610_000 + i) for i in range(20)]


def publish(settings: Settings, events: list[Event]) -> None:
    by_source: dict[str, list[Event]] = {}
    for e in events:
        by_source.setdefault(e.source, []).append(e)
    for source, batch in by_source.items():
        with Publisher.for_source(source, settings=settings, heartbeats=False) as publisher:
            futures = [publisher.publish(e) for e in batch]
            assert publisher.flush(30).complete
        assert all(f.result(0) for f in futures)


def dead_letters(settings: Settings, count: int) -> list[Any]:
    topic = Topics.from_settings(settings).dead_letter
    found: list[Any] = []

    def enough() -> bool:
        nonlocal found
        found = read_all(settings.endpoints.bootstrap_servers, topic)
        return len(found) >= count

    wait_until(enough, 60, f"{count} dead letters")
    return found


def test_no_published_event_stops_the_worker(
    bus_ready: Settings, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    births = [birth(pin) for pin in PINS]
    fix = name_change(PINS[0], T0, "Ánh Dương", corrects=births[0])
    not_a_birth = event(
        "PermanentResidenceRegistered",
        PINS[1],
        T0 + timedelta(days=1),
        change_type="CORRECTED",
        corrects_event_id=str(births[1].event_id),
    )
    second_fix = name_change(PINS[2], T0, "Hoa", corrects=births[2])
    nameless = event(
        "CivilStatusChanged",
        PINS[2],
        T0,
        change_type="ANNULLED",
        corrects_event_id=str(second_fix.event_id),
    )
    faulty = event("PermanentResidenceRegistered", PINS[3], T0 + timedelta(days=2))
    moves = [event("PermanentResidenceRegistered", pin, T0 + timedelta(days=3)) for pin in PINS[4:]]
    publish(bus_ready, births[:10])
    publish(bus_ready, [fix, second_fix, not_a_birth, nameless, faulty])
    publish(bus_ready, births[10:] + moves)
    good = [*births, fix, second_fix, *moves]

    engine = create_engine(pg_url)
    log = tmp_path / "worker.log"
    monkeypatch.setenv(FAULT_ENV, str(faulty.event_id))
    worker = start_worker(bus_ready, pg_url, log, "--batch-size", "50")
    try:
        wait_until(
            lambda: applied_count(engine) >= len(good), 120, "every good event applied", worker, log
        )
        dead = dead_letters(bus_ready, 3)
        assert worker.poll() is None, "the worker stopped"
    finally:
        stop_worker(worker)
    with engine.connect() as conn:
        applied: set[str] = set(conn.scalars(select(applied_events.c.event_id)))
        records = {r.pin: r.record for r in conn.execute(select(citizens))}
    assert applied == {str(e.event_id) for e in good}
    assert records[PINS[0]]["given_name"] == "Ánh Dương"
    assert (records[PINS[0]]["date_of_birth"], records[PINS[0]]["sex"]) == ("2024-05-17", "FEMALE")
    assert records[PINS[2]]["given_name"] == "Hoa"
    assert records[PINS[3]].get("permanent_residence") is None
    assert all(records[pin]["permanent_residence"] for pin in PINS[4:])
    found = {header(m, H_REASON): m for m in dead}
    assert set(found) == {"correction_type_mismatch", "mandatory_field_lost", "apply_failed"}
    isolated = found["apply_failed"]
    assert header(isolated, H_ERROR_CLASS) == "InjectedFaultError"
    assert header(isolated, H_CONSUMER).endswith("population-sync")
    for message in dead:
        text = header(message, H_MESSAGE)
        assert not any(pin in text for pin in PINS)

    # The "fix" deployed (no fault hook): replay the isolated event, it applies.
    monkeypatch.delenv(FAULT_ENV)
    replay_and_apply(bus_ready, pg_url, log, len(good) + 1)
    with engine.connect() as conn:
        record = conn.execute(select(citizens.c.record).where(citizens.c.pin == PINS[3])).one()[0]
    assert record["permanent_residence"] is not None
    engine.dispose()


def test_a_parked_event_isolated_when_released_is_dead_lettered_for_replay(
    bus_ready: Settings, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A residence event waits parked for its birth; applying it when the birth comes fails:
    it is dead-lettered re-encoded (it was kept as JSON), and its replay applies."""
    pin = make_pin("001", date(2024, 5, 17), "FEMALE", 620_001)
    faulty = event("PermanentResidenceRegistered", pin, T0 + timedelta(days=2))
    good = event("TemporaryResidenceRegistered", pin, T0 + timedelta(days=3))
    born = birth(pin)
    engine = create_engine(pg_url)
    log = tmp_path / "worker.log"
    monkeypatch.setenv(FAULT_ENV, str(faulty.event_id))
    publish(bus_ready, [faulty, good])
    worker = start_worker(bus_ready, pg_url, log)
    try:
        wait_until(lambda: parked(engine) == 2, 120, "both events parked", worker, log)
        publish(bus_ready, [born])
        wait_until(lambda: applied_count(engine) == 2, 120, "birth and good applied", worker, log)
        [dead] = dead_letters(bus_ready, 1)
        assert worker.poll() is None, "the worker stopped"
    finally:
        stop_worker(worker)
    assert (header(dead, H_REASON), header(dead, H_ERROR_CLASS)) == (
        "apply_failed",
        "InjectedFaultError",
    )
    assert dead.key() == pin.encode()
    assert parked(engine) == 0
    monkeypatch.delenv(FAULT_ENV)
    replay_and_apply(bus_ready, pg_url, log, 3)
    with engine.connect() as conn:
        record = conn.execute(select(citizens.c.record).where(citizens.c.pin == pin)).one()[0]
    assert record["permanent_residence"] is not None and record["temporary_residence"] is not None
    engine.dispose()


def parked(engine: Engine) -> int:
    create_population_schema(engine)  # the worker may not have created its tables yet
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(parked_events)).scalar() or 0)


def replay_and_apply(settings: Settings, pg_url: str, log: Path, applied: int) -> None:
    """`databus dlq replay --reason apply_failed`, then a worker until `applied` events are."""
    replayed = CliRunner().invoke(
        cli, ["dlq", "replay", "--reason", "apply_failed", "--json"], env=settings_env(settings)
    )
    assert replayed.exit_code == 0, replayed.output
    assert len(json.loads(replayed.output)["replayed"]) == 1
    engine = create_engine(pg_url)
    worker = start_worker(settings, pg_url, log)
    try:
        wait_until(lambda: applied_count(engine) == applied, 120, "the replay applied", worker, log)
    finally:
        stop_worker(worker)
        engine.dispose()
