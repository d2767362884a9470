"""Several population-sync workers in one consumer group give the population of one clean run.

A generated population's events are published through the SDK onto the source topics (three
topics of three partitions), then 2 or 3 workers (`databus run population-sync`, each its own
process, one consumer group) start at the same moment and share the partitions. A birth changes
both parents' `children`, a marriage names the spouse, a re-established PIN moves a citizen:
those citizens' own events are on other partitions, read by other workers, so the workers do
touch the same citizens at the same time (`streams.population.locks` makes their transactions
take turns). With three workers one is SIGKILLed half-way: its partitions, and any batch it had
not committed, go to the others.

The result must be the population a clean in-process run of the same events gives (the
comparison of `tests.population_compare.assert_same_population` for another interleaving of
the topics: the same citizens with the same records and deaths, the same facts, links and
applied events, nothing applied twice, every version made by one event, nothing left
parked), no dead letter, and `population.changes.v1` (after the NPD outbox is relayed)
carries every change with versions increasing per PIN.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine

from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics
from producers.sdk import Publisher
from tests.conftest import PROJECT_ROOT
from tests.population_compare import (
    assert_same_population,
    check_changes_topic,
    clean_run,
    generated_events,
    relay_npd_outbox,
    snapshot,
)
from tests.population_harness import applied_count, start_worker, stop_worker, wait_until

pytestmark = pytest.mark.integration

SEED = 71_2026
CITIZENS = 2_500
MIN_EVENTS = 15_000
BATCH = 200
"""Smaller batches than the default: more batches, more chances for two workers to meet."""
CONVERGE_TIMEOUT = 300.0


def _publish(settings: Settings, topology: Topology, events: list[dict[str, Any]]) -> None:
    publishers = {
        name: Publisher.for_source(name, settings=settings, heartbeats=False)
        for name in topology.sources
    }
    try:
        for event in events:
            publishers[topology.source_of_event_type(event["event_type"])].publish(event)
        for publisher in publishers.values():
            report = publisher.flush(60)
            assert report.complete, f"{len(report.pending)} pending, {len(report.failed)} failed"
    finally:
        for publisher in publishers.values():
            publisher.close(10)


def _members(settings: Settings, group: str) -> int:
    """How many members `group` has now (faust's own assignor encodes the assignments, which
    the Admin API does not decode: members are counted, not their partitions)."""
    admin = AdminClient({"bootstrap.servers": settings.endpoints.bootstrap_servers})
    try:
        described = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    except Exception:  # the group is not there yet, or the coordinator moved: ask again later
        return 0
    return len(described.members)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 3])
def test_several_workers_give_the_population_of_one_clean_run(
    bus_ready: Settings,
    pg_databases: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    monkeypatch.setenv("BROKER_SESSION_TIMEOUT", "10")
    topology = load_topology(bus_ready.topology)
    events = generated_events(
        topology, tmp_path / "population", citizens=CITIZENS, seed=SEED, min_events=MIN_EVENTS
    )
    distinct = len({e["event_id"] for e in events})
    _publish(bus_ready, topology, events)
    url, reference_url = pg_databases(), pg_databases()
    engine = create_engine(url)
    group = f"{bus_ready.topic_prefix}population-sync"
    logs = [tmp_path / f"worker-{n}.log" for n in range(workers)]
    started = time.monotonic()
    processes = [start_worker(bus_ready, url, log, "--batch-size", str(BATCH)) for log in logs]
    killed = False
    try:
        wait_until(
            lambda: _members(bus_ready, group) == workers,
            120,
            f"{workers} workers sharing the partitions",
        )
        if workers == 3:  # one dies half-way; the others take its partitions
            wait_until(lambda: applied_count(engine) > distinct // 2, CONVERGE_TIMEOUT, "half")
            stop_worker(processes[0], kill=True)
            killed = True
        wait_until(
            lambda: applied_count(engine) >= distinct,
            CONVERGE_TIMEOUT,
            "every event applied",
            processes[-1],
            logs[-1],
        )
        seconds = time.monotonic() - started
        for process, log in zip(processes[killed:], logs[killed:], strict=True):
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
    finally:
        for process in processes:
            stop_worker(process)
        shutil.rmtree(PROJECT_ROOT / f"{group}-data", ignore_errors=True)

    clean_changes = clean_run(topology, events, reference_url, batch=BATCH)
    ours, clean = snapshot(engine), snapshot(create_engine(reference_url))
    moved = assert_same_population(ours, clean, same_interleaving=False)
    topics = Topics.from_settings(bus_ready, topology)
    dead = read_all(bus_ready.endpoints.bootstrap_servers, topics.dead_letter)
    assert dead == [], f"{len(dead)} dead letters"
    relay_npd_outbox(bus_ready, url)
    records, duplicates = check_changes_topic(
        bus_ready, topics, ours, clean, clean_changes, same_interleaving=False
    )
    print(
        f"\n{workers} population-sync workers{' (one SIGKILLed half-way)' if killed else ''}: "
        f"{distinct} events applied in {seconds:.1f} s; {len(ours.citizens)} citizens equal to "
        f"the clean run ({len(moved)} re-established); {records} changes relayed, "
        f"{duplicates} duplicate (pin, version)"
    )
