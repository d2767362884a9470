"""SIGKILL the population-sync worker while ~50,000 generated events stream in.

A generated population (`producers.generator`, at least 50,000 events) is published through
the SDK, in recorded-time order over about a minute, while the faust worker (`databus run
population-sync`, its own process) applies it to PostgreSQL. The worker is SIGKILLed three
times at seeded random moments while it is applying, and restarted, until every event is
applied. The same events are then applied in-process, in file order, into a second fresh
database (the clean run), and the two databases are compared:

- the same citizens (record, deceased, and version), the same field facts, the same PIN links,
  the same applied event ids with the same outcomes, the same lineage;
- nothing applied twice: no (event, PIN, field) twice in the lineage, and each version of each
  citizen produced by exactly one event, from 1 to its current version.

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
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, create_engine, func, select

from databus.population.schema import (
    applied_events,
    citizens,
    create_population_schema,
    field_facts,
    lineage,
    parked_events,
    pin_links,
)
from databus.registry import registry_client
from databus.serde import Decoder
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics
from producers.generator import GeneratorConfig, generate
from producers.sdk import Publisher
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from schemas.models.downstream import PopulationChange
from schemas.models.envelope import Event
from streams.population.apply import AppliedChange, Incoming, PopulationApplier
from tests.conftest import PROJECT_ROOT, LocalStack
from tests.integration import test_population_rules as rules
from tests.population_events import event as make_event
from tests.population_harness import (
    applied_count,
    start_worker,
    stop_worker,
    wait_until,
    worker_env,
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


@dataclass(frozen=True)
class Snapshot:
    """The population tables of one database, in comparable form (surrogate ids left out)."""

    citizens: dict[str, tuple[int, Any, bool]]
    applied: dict[str, tuple[str, str, int | None]]
    """event_id -> (subject pin, outcome, version)"""
    lineage: list[Lineage]
    facts: Counter[tuple[str, str, str, bool]]
    links: dict[str, str]
    parked: int

    def final(self, pin: str) -> str:
        """The PIN a citizen has now (through re-establishments)."""
        return self.links.get(pin, pin)


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


class CollectingOutbox:
    """The clean run's outbox: keeps the changes in memory."""

    def __init__(self) -> None:
        self.changes: list[PopulationChange] = []

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None:
        self.changes += [change.model() for change in changes]


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
    events = _generated_events(topology, tmp_path / "population")
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
        clean_changes = _clean_run(topology, events, reference_url)
        clean_seconds = time.monotonic() - clean_started
        ours, clean = _snapshot(engine), _snapshot(create_engine(reference_url))
        moved = _assert_same_population(ours, clean)

        topics = Topics.from_settings(bus_ready, topology)
        dead = read_all(bus_ready.endpoints.bootstrap_servers, topics.dead_letter)
        assert dead == [], f"{len(dead)} dead letters"
        relay_seconds = _relay(bus_ready, pg_url)
        records, duplicates = _check_changes_topic(bus_ready, topics, ours, clean, clean_changes)
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


def _generated_events(topology: Topology, out: Path) -> list[dict[str, Any]]:
    """Generate the population; its events in recorded-time order (events.jsonl)."""
    report = generate(
        GeneratorConfig(
            citizens=CITIZENS,
            out_dir=out,
            seed=SEED,
            start=date(2024, 1, 1),
            end=date(2026, 11, 20),
        ),
        topology,
    )
    assert report.events >= MIN_EVENTS, f"only {report.events} events: raise CITIZENS"
    with (out / "events.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


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


# ---------------------------------------------------------------------- the clean run


def _domain(event_type: str) -> EventDomain:
    cls = EVENT_CLASSES[event_type]
    return next(d for d in EVENT_DOMAINS.values() if cls in d.events)


def _clean_run(
    topology: Topology, events: list[dict[str, Any]], url: str
) -> list[PopulationChange]:
    """Apply `events` in file order, in batches, without Kafka and without crashes."""
    engine = create_engine(url)
    create_population_schema(engine)
    outbox = CollectingOutbox()
    applier = PopulationApplier(topology, outbox)
    models = [event_from_data(_domain(e["event_type"]), e) for e in events]
    statuses: Counter[str] = Counter()
    for start in range(0, len(models), BATCH):
        with engine.begin() as conn:
            batch = [Incoming(m) for m in models[start : start + BATCH]]
            statuses.update(o.status for o in applier.apply_batch(conn, batch))
    engine.dispose()
    assert set(statuses) <= {"applied", "late", "reference", "parked"}, statuses
    return outbox.changes


# ---------------------------------------------------------------------- comparing


def _snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        people = {
            r.pin: (r.version, r.record, r.deceased)
            for r in conn.execute(
                select(citizens.c.pin, citizens.c.version, citizens.c.record, citizens.c.deceased)
            )
        }
        applied = {
            r.event_id: (r.pin, r.outcome, r.version)
            for r in conn.execute(
                select(
                    applied_events.c.event_id,
                    applied_events.c.pin,
                    applied_events.c.outcome,
                    applied_events.c.version,
                )
            )
        }
        trail = [
            (r.pin, r.version, r.field, r.event_id, r.action)
            for r in conn.execute(
                select(
                    lineage.c.pin,
                    lineage.c.version,
                    lineage.c.field,
                    lineage.c.event_id,
                    lineage.c.action,
                )
            )
        ]
        facts: Counter[tuple[str, str, str, bool]] = Counter(
            (r.pin, r.field, r.event_id, r.active)
            for r in conn.execute(
                select(
                    field_facts.c.pin,
                    field_facts.c.field,
                    field_facts.c.event_id,
                    field_facts.c.active,
                )
            )
        )
        links = {r.old_pin: r.new_pin for r in conn.execute(select(pin_links))}
        parked = int(conn.execute(select(func.count()).select_from(parked_events)).scalar() or 0)
    engine.dispose()
    return Snapshot(people, applied, trail, facts, links, parked)


def _versions(snapshot: Snapshot) -> dict[str, dict[int, set[str]]]:
    """Per current PIN: version -> the events whose change produced it (late rows excluded)."""
    out: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for pin, version, _, event_id, action in snapshot.lineage:
        if action != "late":
            out[snapshot.final(pin)][version].add(event_id)
    return out


def _assert_consistent(snapshot: Snapshot, run: str) -> None:
    """Nothing applied twice: one lineage row per (event, PIN, field), one event per version."""
    twice = Counter((e, p, f) for p, _, f, e, _ in snapshot.lineage)
    repeated = sorted({e for (e, _, _), n in twice.items() if n > 1})
    assert not repeated, f"{run}: lineage rows twice for events {repeated[:5]}"
    versions = _versions(snapshot)
    for pin, (current, _, _) in snapshot.citizens.items():
        made = versions.get(pin, {})
        assert sorted(made) == list(range(1, current + 1)), (
            f"{run}: a citizen at version {current} has changes for versions "
            f"{sorted(made)[:3]}…{sorted(made)[-3:]}"
        )
        shared = [v for v, events in made.items() if len(events) > 1]
        assert not shared, f"{run}: versions {shared} of a citizen each came from several events"


def _differ(name: str, ours: set[Any], clean: set[Any]) -> str:
    return f"{name}: {len(ours - clean)} only after the crashes, {len(clean - ours)} only clean"


def _assert_same_population(ours: Snapshot, clean: Snapshot) -> set[str]:
    """The comparison of the module docstring; returns the re-established citizens' PINs.

    Failure messages hold counts and event ids, never a PIN or a name.
    """
    assert ours.parked == 0, f"{ours.parked} events still parked after the crashes"
    assert clean.parked == 0, f"{clean.parked} events still parked in the clean run"
    _assert_consistent(ours, "after the crashes")
    _assert_consistent(clean, "clean run")
    assert ours.links == clean.links, _differ(
        "PIN links", set(ours.links.items()), set(clean.links.items())
    )
    moved = set(ours.links.values())
    assert set(ours.citizens) == set(clean.citizens), _differ(
        "citizens", set(ours.citizens), set(clean.citizens)
    )
    records = sum(ours.citizens[p][1:] != clean.citizens[p][1:] for p in clean.citizens)
    assert not records, f"{records} citizens differ in their record or death"
    versions = sum(
        ours.citizens[p][0] != clean.citizens[p][0] for p in clean.citizens if p not in moved
    )
    assert not versions, f"{versions} citizens differ in their version"
    assert ours.facts == clean.facts, _differ("field facts", set(ours.facts), set(clean.facts))

    assert set(ours.applied) == set(clean.applied), _differ(
        "applied events", set(ours.applied), set(clean.applied)
    )
    outcomes = sorted(
        e
        for e, (pin, outcome, _) in clean.applied.items()
        if clean.final(pin) not in moved and ours.applied[e][1] != outcome
    )
    assert not outcomes, f"{len(outcomes)} events with another outcome, e.g. {outcomes[:5]}"

    def kept(s: Snapshot) -> set[tuple[str, str, str, str]]:
        return {(s.final(p), f, e, a) for p, _, f, e, a in s.lineage if s.final(p) not in moved}

    assert kept(ours) == kept(clean), _differ("lineage", kept(ours), kept(clean))
    ours_made, clean_made = _versions(ours), _versions(clean)
    behind = sum(
        {e for es in ours_made[p].values() for e in es}
        != {e for es in clean_made[p].values() for e in es}
        for p in clean.citizens
        if p not in moved
    )
    assert not behind, f"{behind} citizens whose versions came from other events"
    return moved


# ---------------------------------------------------------------------- the NPD outbox


def _relay(settings: Settings, url: str) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "outbox-relay",
            "--database-url",
            url,
            "--table",
            "npd_outbox",
            "--drain",
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return time.monotonic() - started


def _check_changes_topic(
    settings: Settings,
    topics: Topics,
    ours: Snapshot,
    clean: Snapshot,
    clean_changes: list[PopulationChange],
) -> tuple[int, int]:
    """The worker's changes, all of them, and the clean run's; (records, duplicates)."""
    topic = topics.population_changes
    decoder = Decoder(registry_client(settings.endpoints.registry_url), topic, PopulationChange)
    seen: Counter[tuple[str, int]] = Counter()
    per_pin: dict[str, list[int]] = defaultdict(list)
    messages = read_all(settings.endpoints.bootstrap_servers, topic, timeout=120)
    for message in messages:  # partition by partition, in offset order
        change = decoder.decode(message.value())
        assert isinstance(change, PopulationChange)
        seen[(change.pin, change.version)] += 1
        if seen[(change.pin, change.version)] == 1:
            per_pin[change.pin].append(change.version)
    made = {(p, v) for p, v, _, _, a in ours.lineage if a != "late"}
    assert set(seen) == made, _differ(f"(pin, version) on {topic}", set(seen), made)
    moved = set(ours.links.values())
    expected = {(c.pin, c.version) for c in clean_changes if clean.final(c.pin) not in moved}
    missing = expected - set(seen)
    assert not missing, f"{len(missing)} (pin, version) of the clean run missing from {topic}"
    unordered = sum(any(a >= b for a, b in pairwise(v)) for v in per_pin.values())
    assert not unordered, f"{unordered} PINs with versions out of order on {topic}"
    return len(messages), sum(n - 1 for n in seen.values())


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
