"""SIGKILL the population-sync worker while ~50,000 generated events stream in.

A generated population (`producers.generator`, at least 50,000 events) is published through
the SDK, in recorded-time order over about a minute, while the faust worker (`databus run
population-sync`, its own process) applies it to PostgreSQL. The worker is SIGKILLed three
times at seeded random moments while it is applying, and restarted, until every event is
applied. The same events are then applied in-process, in file order, into a second fresh
database (the clean run), and the two databases are compared:

- the same citizens (record, deceased, and version), the same field facts, the same PIN links,
  the same applied event ids with the same outcomes, the same lineage;
- nothing applied twice: no (event, PIN, field) twice in the lineage (its rows' fields), and
  each version of each citizen produced by exactly one event, from 1 to its current version.

Kafka orders events per partition only: which version number an event got depends on how the
worker interleaved the source topics, so versions are compared per citizen (the same current
version, the same events behind its versions), not per event. For a re-established citizen
even that depends on the interleaving (events keyed by the old and the new PIN sit on different
partitions, so one can arrive late in one run and not in the other): for those only the record
and the facts are compared. Finally the NPD outbox is relayed to `population.changes.v1`, which
must carry every (PIN, version) the worker produced and every one of the clean run, with
versions increasing per PIN once duplicates are dropped.

faust's default 60 s broker session timeout makes a restarted worker wait a minute for the
killed member's partitions; the workers here run with BROKER_SESSION_TIMEOUT=10 (a faust
setting read from the environment). Another seed: DATABUS_POPULATION_CRASH_SEED (default 62026).
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, func, select

from databus.population.schema import (
    create_population_schema,
    parked_events,
)
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from schemas.models.envelope import Event
from streams.population.apply import PopulationApplier
from tests.conftest import PROJECT_ROOT, LocalStack
from tests.integration import test_population_rules as rules
from tests.population_compare import (
    CollectingOutbox,
    assert_same_population,
    check_changes_topic,
    clean_run,
    generated_events,
    relay_npd_outbox,
    snapshot,
)
from tests.population_events import event as make_event
from tests.population_harness import (
    applied_count,
    start_worker,
    stop_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("DATABUS_POPULATION_CRASH_SEED", "62026"))
CITIZENS = 7_000
MIN_EVENTS = 50_000
KILLS = 3
STREAM_SECONDS = 60.0
"""The events are published over about this long: the kills happen while they stream in."""
BATCH = 500
CONVERGE_TIMEOUT = 300.0
SESSION_TIMEOUT = "10"

Lineage = tuple[str, int, str, str, str]
"""(pin, version, field, event_id, action)"""


@dataclass
class Kill:
    """One SIGKILL: when (seconds since the first start) and how far the worker had got."""

    at: float
    applied: int
    streaming: bool
    resumed_after: float = 0.0


@dataclass
class Figures:
    """What the run printed at the end."""

    kills: list[Kill] = field(default_factory=list)
    converged: float = 0.0


@pytest.fixture
def reference_url(local_stack: LocalStack) -> Iterator[str]:
    """A second fresh PostgreSQL database, for the clean in-process run."""
    base = local_stack.database_url("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_worker_killed_three_times_converges_to_the_clean_run(
    bus_ready: Settings,
    pg_url: str,
    reference_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROKER_SESSION_TIMEOUT", SESSION_TIMEOUT)
    topology = load_topology(bus_ready.topology)
    events = generated_events(
        topology, tmp_path / "population", citizens=CITIZENS, seed=SEED, min_events=MIN_EVENTS
    )
    distinct = len({e["event_id"] for e in events})
    assert distinct == len(events) >= MIN_EVENTS
    engine = create_engine(pg_url)
    group_data = PROJECT_ROOT / f"{bus_ready.topic_prefix}population-sync-data"  # faust's
    try:
        streamer = _Streamer(bus_ready, topology, events)
        figures = _run_with_kills(bus_ready, pg_url, engine, streamer, distinct, tmp_path)
        assert streamer.error is None, streamer.error
        assert streamer.published == len(events)
        assert applied_count(engine) == distinct

        clean_started = time.monotonic()
        clean_changes = clean_run(topology, events, reference_url, batch=BATCH)
        clean_seconds = time.monotonic() - clean_started
        ours, clean = snapshot(engine), snapshot(create_engine(reference_url))
        moved = assert_same_population(ours, clean)

        topics = Topics.from_settings(bus_ready, topology)
        dead = read_all(bus_ready.endpoints.bootstrap_servers, topics.dead_letter)
        assert dead == [], f"{len(dead)} dead letters"
        relay_seconds = relay_npd_outbox(bus_ready, pg_url)
        records, duplicates = check_changes_topic(bus_ready, topics, ours, clean, clean_changes)
    finally:
        engine.dispose()
        shutil.rmtree(group_data, ignore_errors=True)

    print(
        f"\npopulation crash test (seed {SEED}): {len(events)} events ({CITIZENS} citizens), "
        f"published in {streamer.seconds:.1f} s while the worker ran"
    )
    for number, kill in enumerate(figures.kills, 1):
        print(
            f"  kill {number}: SIGKILL at {kill.at:.1f} s, {kill.applied} events applied"
            f"{', while publishing' if kill.streaming else ''}; the restarted worker applied "
            f"again {kill.resumed_after:.1f} s later"
        )
    print(f"  converged: all {distinct} events applied {figures.converged:.1f} s after the start")
    print(
        f"  clean in-process run: {clean_seconds:.1f} s, {len(clean_changes)} changes; "
        f"{len(ours.citizens)} citizens equal ({len(moved)} re-established: record and facts "
        f"only); no dead letters; nothing parked"
    )
    print(
        f"  population.changes.v1: relayed in {relay_seconds:.1f} s, {records} records, "
        f"{duplicates} duplicate (pin, version)"
    )


# ---------------------------------------------------------------------- the worker, killed


def _run_with_kills(
    settings: Settings,
    url: str,
    engine: Engine,
    streamer: _Streamer,
    distinct: int,
    tmp_path: Path,
) -> Figures:
    """Start the worker, stream the events, SIGKILL and restart it KILLS times; converge."""
    rng = random.Random(SEED)
    log = tmp_path / "worker.log"
    figures = Figures()
    began = time.monotonic()
    worker = start_worker(settings, url, log)
    streamer.start()
    try:
        for _ in range(KILLS):
            wait_until(  # the (restarted) worker is applying: kill it in the middle of that
                _more_than(engine, applied_count(engine)),
                CONVERGE_TIMEOUT,
                "the worker applying",
                worker,
                log,
            )
            time.sleep(rng.uniform(0.5, 5.0))
            done = applied_count(engine)
            assert done < distinct, "converged before all kills: slow the stream down"
            figures.kills.append(
                Kill(time.monotonic() - began, done, streaming=streamer.is_alive())
            )
            stop_worker(worker, kill=True)
            restarted = time.monotonic()
            worker = start_worker(settings, url, log)
            wait_until(
                _more_than(engine, applied_count(engine)),
                CONVERGE_TIMEOUT,
                "the restarted worker applying",
                worker,
                log,
            )
            figures.kills[-1].resumed_after = time.monotonic() - restarted
        wait_until(
            _more_than(engine, distinct - 1),
            CONVERGE_TIMEOUT,
            "every event applied",
            worker,
            log,
        )
        figures.converged = time.monotonic() - began
    finally:
        stop_worker(worker)
        streamer.join()
    return figures


def _more_than(engine: Engine, count: int) -> Callable[[], bool]:
    return lambda: applied_count(engine) > count


# ---------------------------------------------------------------------- the events


class _Streamer(threading.Thread):
    """Publishes the events through one SDK Publisher per source, over STREAM_SECONDS."""

    def __init__(
        self, settings: Settings, topology: Topology, events: list[dict[str, Any]]
    ) -> None:
        super().__init__(name="publish-population", daemon=True)
        self.settings = settings
        self.topology = topology
        self.events = events
        self.published = 0
        self.seconds = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._publish()
        except BaseException as error:  # reported by the test thread
            self.error = error

    def _publish(self) -> None:
        started = time.monotonic()
        rate = len(self.events) / STREAM_SECONDS
        publishers = {
            name: Publisher.for_source(name, settings=self.settings, heartbeats=False)
            for name in self.topology.sources
        }
        try:
            for index, event in enumerate(self.events):
                publishers[self.topology.source_of_event_type(event["event_type"])].publish(event)
                if index % 200 == 199:
                    ahead = (index + 1) / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
            for publisher in publishers.values():
                report = publisher.flush(60)
                assert report.complete, (
                    f"{len(report.pending)} pending, {len(report.failed)} failed"
                )
                self.published += report.delivered
        finally:
            for publisher in publishers.values():
                publisher.close(10)
        self.seconds = time.monotonic() - started


# ---------------------------------------------------------------------- what replays and
# out-of-order topics did to the applier (one scenario each, fast)


MOTHER_DOB = date(1994, 9, 21)
MOTHER = make_pin("001", MOTHER_DOB, "FEMALE", 515151)
MOTHER_NEW = make_pin("001", MOTHER_DOB, "MALE", 515152)
CHILD = make_pin("001", date(2024, 5, 17), "FEMALE", 424242)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    create_population_schema(engine)
    yield engine
    engine.dispose()


def _born(pin: str, dob: date, sex: str, at: datetime, mother: str | None = None) -> Event:
    payload = copy.deepcopy(EXAMPLES["BirthRegistered"]["payload"])
    payload.update(date_of_birth=dob.isoformat(), sex=sex, father=None)
    payload["mother"] = {"pin": mother, "name": payload["mother"]["name"]} if mother else None
    return make_event("BirthRegistered", pin, at, payload=payload)


def _reestablish(old: str, new: str, at: datetime) -> Event:
    return make_event(
        "PinReestablished",
        new,
        at,
        payload={
            "old_pin": old,
            "reason": "GENDER_REDETERMINATION",
            "date_of_birth": MOTHER_DOB.isoformat(),
            "sex": "MALE",
            "effective_on": at.date().isoformat(),
        },
    )


def _card(pin: str, at: datetime, **changes: Any) -> Event:
    card = copy.deepcopy(EXAMPLES["IdentityCardIssued"]["payload"]["card"])
    card.update(number=pin, issued_on=at.date().isoformat())
    return make_event("IdentityCardIssued", pin, at, payload={"card": card}, **changes)


def _parked(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(parked_events)).scalar() or 0)


def test_a_replayed_parked_event_is_parked_once(engine: Engine) -> None:
    """A crash after the commit but before the offset commit replays parked events."""
    applier = PopulationApplier(rules.topology(), CollectingOutbox())
    early = rules.residence(CHILD, rules.T0 + timedelta(days=1), "Arrived first")
    assert [o.status for o in rules.run(engine, applier, early, early)] == ["parked", "parked"]
    [again] = rules.run(engine, applier, early)  # the replay
    assert again.status == "parked" and _parked(engine) == 1
    rules.run(engine, applier, rules.birth(CHILD))
    assert rules.row(engine, CHILD).version == 2 and _parked(engine) == 0


def test_a_reestablishment_before_the_old_pins_birth_waits_for_that_birth(
    engine: Engine,
) -> None:
    """Identity ran ahead of civil status: the new PIN's events wait, then all apply."""
    applier = PopulationApplier(rules.topology(), CollectingOutbox())
    moved = _reestablish(MOTHER, MOTHER_NEW, rules.T0 + timedelta(days=2))
    later = rules.residence(MOTHER_NEW, rules.T0 + timedelta(days=3), "After the new PIN")
    assert [o.status for o in rules.run(engine, applier, moved)] == ["parked"]
    assert [o.status for o in rules.run(engine, applier, later)] == ["parked"]
    rules.run(engine, applier, _born(MOTHER, MOTHER_DOB, "FEMALE", rules.T0))
    citizen = rules.row(engine, MOTHER_NEW)
    assert citizen.record["permanent_residence"]["street"] == "After the new PIN"
    assert [h["pin"] for h in citizen.record["pin_history"]] == [MOTHER]
    assert _parked(engine) == 0


@pytest.mark.parametrize("same_batch", [False, True])
def test_a_child_registered_before_its_mother_reaches_her_record(
    engine: Engine, same_batch: bool
) -> None:
    """The child's birth (one partition) is applied before the mother's (another)."""
    outbox = CollectingOutbox()
    applier = PopulationApplier(rules.topology(), outbox)
    child = _born(CHILD, date(2024, 5, 17), "FEMALE", rules.T0, mother=MOTHER)
    mother = _born(MOTHER, MOTHER_DOB, "FEMALE", rules.T0 - timedelta(days=1))
    if same_batch:
        rules.run(engine, applier, child, mother)
    else:
        rules.run(engine, applier, child)
        rules.run(engine, applier, mother)
    citizen = rules.row(engine, MOTHER)
    assert [c["pin"] for c in citizen.record["children"]] == [CHILD]
    assert citizen.version == 2
    assert (2, "children", "set", str(child.event_id)) in rules.trail(engine, MOTHER)
    assert [(c.pin, c.version, str(c.event_id)) for c in outbox.changes if c.pin == MOTHER] == [
        (MOTHER, 1, str(mother.event_id)),
        (MOTHER, 2, str(child.event_id)),
    ]


def test_a_child_naming_a_pin_not_yet_reestablished_reaches_the_parent(engine: Engine) -> None:
    """The child names the mother's new PIN; her re-establishment is applied after it."""
    applier = PopulationApplier(rules.topology(), CollectingOutbox())
    rules.run(engine, applier, _born(MOTHER, MOTHER_DOB, "FEMALE", rules.T0))
    child = _born(CHILD, date(2024, 5, 17), "FEMALE", rules.T0, mother=MOTHER_NEW)
    rules.run(engine, applier, child)
    rules.run(engine, applier, _reestablish(MOTHER, MOTHER_NEW, rules.T0 + timedelta(days=1)))
    citizen = rules.row(engine, MOTHER_NEW)
    assert [c["pin"] for c in citizen.record["children"]] == [CHILD]
    assert citizen.version == 3


def test_an_annulment_in_the_batch_of_a_reestablishment_falls_back_to_older_facts(
    engine: Engine,
) -> None:
    """The old PIN's facts still count in the batch that moves the citizen to a new PIN."""
    applier = PopulationApplier(rules.topology(), CollectingOutbox())
    first = _card(MOTHER, rules.T0 + timedelta(days=1))
    rules.run(engine, applier, _born(MOTHER, MOTHER_DOB, "FEMALE", rules.T0), first)
    second = _card(MOTHER_NEW, rules.T0 + timedelta(days=3))
    annul = _card(
        MOTHER_NEW,
        rules.T0 + timedelta(days=3),
        change_type="ANNULLED",
        corrects_event_id=str(second.event_id),
    )
    moved = _reestablish(MOTHER, MOTHER_NEW, rules.T0 + timedelta(days=2))
    rules.run(engine, applier, moved, second, annul)
    card = rules.row(engine, MOTHER_NEW).record["identity_card"]
    assert card is not None and card["issued_on"] == first.payload.card.issued_on.isoformat()


@pytest.mark.parametrize("same_batch", [False, True])
def test_annulling_a_corrected_event_does_not_depend_on_the_batches(
    engine: Engine, same_batch: bool
) -> None:
    """A big batch after a backlog can hold an event's correction and its annulment."""
    applier = PopulationApplier(rules.topology(), CollectingOutbox())
    at = rules.T0 + timedelta(days=1)
    first = rules.residence(CHILD, at, "Wrong street")
    fix = rules.residence(
        CHILD, at, "Right street", change_type="CORRECTED", corrects_event_id=str(first.event_id)
    )
    annul = rules.residence(
        CHILD, at, "Right street", change_type="ANNULLED", corrects_event_id=str(first.event_id)
    )
    rules.run(engine, applier, rules.birth(CHILD), first)
    outcomes = (
        rules.run(engine, applier, fix, annul)
        if same_batch
        else rules.run(engine, applier, fix) + rules.run(engine, applier, annul)
    )
    assert [o.status for o in outcomes] == ["applied", "applied"]
    citizen = rules.row(engine, CHILD)
    assert citizen.record["permanent_residence"]["street"] == "Right street"
    assert citizen.version == 3
