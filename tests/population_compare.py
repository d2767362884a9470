"""Comparing population databases: a worker's (crashed, or several at once) with a clean run.

`generated_events` makes a population's events; `clean_run` applies them in file order,
in-process, without Kafka; `snapshot` reads a database's population tables in comparable form
and `assert_same_population` compares two snapshots (see its docstring); `relay_npd_outbox` and
`check_changes_topic` check what reached `population.changes.v1`. Failure messages hold counts
and event ids, never a PIN or a name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, select

from databus.population.schema import (
    applied_events,
    citizens,
    create_population_schema,
    facts_of,
    field_facts,
    lineage,
    parked_events,
    pin_links,
)
from databus.registry import registry_client
from databus.serde import Decoder
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.model import Topology
from databus.topology.topics import Topics
from producers.generator import GeneratorConfig, generate
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.models.downstream import PopulationChange
from streams.population.apply import AppliedChange, Incoming, PopulationApplier
from tests.conftest import PROJECT_ROOT
from tests.population_harness import worker_env

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


class CollectingOutbox:
    """The clean run's outbox: keeps the changes in memory."""

    def __init__(self) -> None:
        self.changes: list[PopulationChange] = []

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None:
        self.changes += [change.model() for change in changes]


def generated_events(
    topology: Topology, out: Path, *, citizens: int, seed: int, min_events: int
) -> list[dict[str, Any]]:
    """Generate a population; its events in recorded-time order (events.jsonl)."""
    report = generate(
        GeneratorConfig(
            citizens=citizens,
            out_dir=out,
            seed=seed,
            start=date(2024, 1, 1),
            end=date(2026, 11, 20),
        ),
        topology,
    )
    assert report.events >= min_events, f"only {report.events} events: raise the citizens"
    with (out / "events.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def domain_of_type(event_type: str) -> EventDomain:
    cls = EVENT_CLASSES[event_type]
    return next(d for d in EVENT_DOMAINS.values() if cls in d.events)


def clean_run(
    topology: Topology, events: list[dict[str, Any]], url: str, *, batch: int = 500
) -> list[PopulationChange]:
    """Apply `events` in file order, in batches, without Kafka and without crashes."""
    engine = create_engine(url)
    create_population_schema(engine)
    outbox = CollectingOutbox()
    applier = PopulationApplier(topology, outbox)
    models = [event_from_data(domain_of_type(e["event_type"]), e) for e in events]
    statuses: Counter[str] = Counter()
    for start in range(0, len(models), batch):
        with engine.begin() as conn:
            chunk = [Incoming(m) for m in models[start : start + batch]]
            statuses.update(o.status for o in applier.apply_batch(conn, chunk))
    engine.dispose()
    assert set(statuses) <= {"applied", "late", "reference", "parked"}, statuses
    return outbox.changes


def snapshot(engine: Engine) -> Snapshot:
    """The population tables behind `engine` (which it disposes of)."""
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
        trail = [  # one entry per field of each lineage row
            (r.pin, r.version, name, r.event_id, r.action)
            for r in conn.execute(
                select(
                    lineage.c.pin,
                    lineage.c.version,
                    lineage.c.fields,
                    lineage.c.event_id,
                    lineage.c.action,
                )
            )
            for name in r.fields
        ]
        facts: Counter[tuple[str, str, str, bool]] = Counter(
            (r.pin, name, r.event_id, counts)
            for r in conn.execute(select(field_facts))
            for name, _, counts in facts_of(r.facts, r.fields_off, r.active)
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
    """Nothing applied twice: no (event, PIN, field) twice in the lineage, one event per
    version."""
    twice = Counter((e, p, f) for p, _, f, e, _ in snapshot.lineage)
    repeated = sorted({e for (e, _, _), n in twice.items() if n > 1})
    assert not repeated, f"{run}: a field twice in the lineage of events {repeated[:5]}"
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


def assert_same_population(
    ours: Snapshot, clean: Snapshot, *, same_interleaving: bool = True
) -> set[str]:
    """The comparison of the module docstring; returns the re-established citizens' PINs.

    With `same_interleaving=False` (several workers, each reading its own partitions at its own
    pace, so the source topics interleave quite unlike the clean run's file order) the version
    numbers, the outcomes (applied or late) and the lineage are not compared: they depend on the
    order events arrived in by design (an older event arriving after a newer one is recorded
    late and makes no version). What must not depend on it still is: the records, deaths, facts,
    links and applied events, nothing applied twice and every version made by one event.
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
    differing: Counter[str] = Counter()
    for pin, (_, record, deceased) in clean.citizens.items():
        _, got, got_deceased = ours.citizens[pin]
        names = {k for k in set(record) | set(got) if record.get(k) != got.get(k)}
        differing.update(names | ({"deceased"} if got_deceased != deceased else set()))
    assert not differing, f"citizens differ in these fields (citizens per field): {differing}"
    assert ours.facts == clean.facts, _differ("field facts", set(ours.facts), set(clean.facts))
    assert set(ours.applied) == set(clean.applied), _differ(
        "applied events", set(ours.applied), set(clean.applied)
    )
    if not same_interleaving:
        return moved
    versions = sum(
        ours.citizens[p][0] != clean.citizens[p][0] for p in clean.citizens if p not in moved
    )
    assert not versions, f"{versions} citizens differ in their version"
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


def relay_npd_outbox(settings: Settings, url: str) -> float:
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


def check_changes_topic(
    settings: Settings,
    topics: Topics,
    ours: Snapshot,
    clean: Snapshot,
    clean_changes: list[PopulationChange],
    *,
    same_interleaving: bool = True,
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
    missing = expected - set(seen) if same_interleaving else set()
    assert not missing, f"{len(missing)} (pin, version) of the clean run missing from {topic}"
    unordered = sum(any(a >= b for a, b in pairwise(v)) for v in per_pin.values())
    assert not unordered, f"{unordered} PINs with versions out of order on {topic}"
    return len(messages), sum(n - 1 for n in seen.values())
