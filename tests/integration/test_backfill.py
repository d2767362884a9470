"""Backfill through the real stack: live, backfilled and killed-then-resumed sector tables agree,
and a sink started after a backfill applies exactly the later changes.

A generated population's events are applied to a PostgreSQL population database (the
population applier writing the NPD outbox, published by `databus run outbox-relay --drain`),
in two parts. After part A the router (its batch logic, in this process) releases the changes
to the sector topics, a live sink (`databus run sink`) keeps one sector database in sync, and
`databus backfill` fills two new ones: one in a single run, one killed with SIGKILL at a random
moment and run again. Then part B is applied and routed, and the backfilled database gets its
own sink, which must start at the backfill's offsets: every projection before them is one the
backfill already held, every one after them a later change.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, select

from consumers.backfill import checkpoint
from consumers.backfill.handover import committed_offsets, end_offsets
from consumers.sink.store import create_sector_schema, sector_citizens
from databus.outbox import create_outbox
from databus.population.schema import citizens, create_population_schema, pin_links
from databus.registry import registry_client
from databus.serde import Decoder
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from producers.generator import GeneratorConfig, generate
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.models.downstream import DataUsage, SectorProjection
from streams.population.apply import Incoming, PopulationApplier
from streams.population.outbox import NPD_OUTBOX, PopulationOutbox
from streams.population.worker import RawRecord
from streams.router.worker import SectorRouter
from tests.conftest import PROJECT_ROOT
from tests.population_harness import wait_until, worker_env

SECTOR = "social-insurance"
CITIZENS = 700
SEED = int(os.environ.get("DATABUS_BACKFILL_SEED", "6062"))
LATER_SHARE = 0.15
"""The share of events applied after the backfill (part B)."""

Content = dict[str, tuple[int, bool, str | None]]


def test_live_backfilled_and_resumed_tables_agree_and_the_sink_takes_over(
    bus_ready: Settings, pg_databases: Callable[[], str], tmp_path: Path
) -> None:
    began = time.monotonic()
    run = _Scenario(bus_ready, pg_databases, tmp_path)
    events = _generated_events(run.topology, tmp_path / "generated")
    split = int(len(events) * (1 - LATER_SHARE))

    # Part A: applied, published, routed; the live sink follows from the start.
    run.apply(events[:split])
    live_url = pg_databases()
    live = run.start(
        "live.log",
        "run",
        "sink",
        SECTOR,
        "--database-url",
        live_url,
        "--group",
        f"{run.prefix}live",
    )
    try:
        versions_a, superseded_a = run.npd_versions(), run.superseded()
        backfilled_url, recorded = run.clean_backfill(versions_a)
        run.killed_and_resumed_backfill(versions_a, recorded, backfilled_url, random.Random(SEED))
        run.check_usage(versions_a)

        # Part B: applied, published and routed after the backfill; then the backfilled
        # database gets its sink, which must start exactly at the recorded offsets.
        run.apply(events[split:])
        ends = end_offsets(run.bootstrap, run.topic)
        assert ends != recorded, "part B released nothing to the sector"
        before, after = _split_topic(bus_ready, run.topics, recorded)
        # No gap, nothing twice: what precedes the offsets the backfill already holds...
        assert all(pin in superseded_a or version <= versions_a[pin] for pin, version in before)
        # ...and everything after them is a later change.
        assert all(version > versions_a.get(pin, 0) for pin, version in after)
        group = f"{run.prefix}backfilled"
        assert committed_offsets(run.bootstrap, group, run.topic, list(ends)) == recorded
        sink = run.start(
            "sink.log", "run", "sink", SECTOR, "--database-url", backfilled_url, "--group", group
        )
        try:
            run.wait_caught_up(group, ends, sink)
            run.wait_caught_up(f"{run.prefix}live", ends, live)
        finally:
            _stop(sink)
    finally:
        _stop(live)

    versions_b, superseded = run.npd_versions(), run.superseded()
    newest_after: dict[str, int] = {}
    for pin, version in after:
        newest_after[pin] = max(version, newest_after.get(pin, 0))
    final = _content(create_engine(backfilled_url))
    for pin, row in final.items():  # the sink applied exactly the later releases
        assert row[0] == newest_after.get(pin, versions_a.get(pin)), "unexpected version"
    assert set(versions_b) <= set(final)
    assert set(final) - set(versions_b) <= superseded

    # Live and backfilled hold the same data. Both keep rows under PINs that were
    # re-established (the router sends no tombstone for the old key; the live table has more
    # of them), and live versions may be lower: the version of the last change that touched
    # the sector's fields, where the backfill wrote the citizen's current version.
    live_rows = _content(create_engine(live_url))
    assert set(versions_b) <= set(live_rows)
    assert set(live_rows) - set(versions_b) <= superseded
    assert {p: live_rows[p][1:] for p in versions_b} == {p: final[p][1:] for p in versions_b}
    assert all(live_rows[p][0] <= final[p][0] for p in versions_b)

    # Both are in sync by the reconciler's rules (content; versions at most the NPD's).
    for url in (live_url, backfilled_url):
        report = run.reconcile(url)
        assert report["in_sync"] and report["expected_rows"] == len(versions_b)
    print(
        f"[backfill] {len(events)} events, {len(versions_b)} citizens, "
        f"{len(after)} later releases, {time.monotonic() - began:.1f} s"
    )


class _Scenario:
    """The population database, the router, and the commands the test runs."""

    def __init__(self, settings: Settings, databases: Callable[[], str], tmp: Path) -> None:
        self.settings = settings
        self.databases = databases
        self.tmp = tmp
        self.topology = load_topology(settings.topology)
        self.topics = Topics.from_settings(settings, self.topology)
        self.topic = self.topics.sector_topic(SECTOR)
        self.bootstrap = settings.endpoints.bootstrap_servers
        self.prefix = settings.topic_prefix
        self.npd_url = databases()
        self.npd = create_engine(self.npd_url)
        create_population_schema(self.npd)
        create_outbox(self.npd, NPD_OUTBOX)
        self.applier = PopulationApplier(self.topology, PopulationOutbox(self.topics))
        self.router = _Router(settings, self.topics)

    def apply(self, events: list[dict[str, Any]]) -> None:
        """Apply to the population database, publish its outbox, route the new changes."""
        models = [event_from_data(_domain(e["event_type"]), e) for e in events]
        for start in range(0, len(models), 500):
            with self.npd.begin() as conn:
                self.applier.apply_batch(conn, [Incoming(m) for m in models[start : start + 500]])
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "run",
                "outbox-relay",
                "--database-url",
                self.npd_url,
                "--table",
                NPD_OUTBOX,
                "--drain",
            ],
            cwd=PROJECT_ROOT,
            env=worker_env(self.settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        self.router.route_new()

    def npd_versions(self) -> dict[str, int]:
        query = select(citizens.c.pin, citizens.c.version)
        with self.npd.connect() as conn:
            return {r.pin: int(r.version) for r in conn.execute(query)}

    def superseded(self) -> set[str]:
        with self.npd.connect() as conn:
            return set(conn.scalars(select(pin_links.c.old_pin)))

    def start(self, log: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            cwd=PROJECT_ROOT,
            env=worker_env(self.settings),
            stdout=(self.tmp / log).open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def backfill(self, url: str, group: str) -> dict[str, Any]:
        """`databus backfill`, the population database named by its default variable."""
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "backfill",
                SECTOR,
                "--database-url",
                url,
                "--group",
                group,
                "--json",
            ],
            cwd=PROJECT_ROOT,
            env={**worker_env(self.settings), "DATABUS_NPD_DATABASE_URL": self.npd_url},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        result: dict[str, Any] = json.loads(out.stdout)
        return result

    def clean_backfill(self, versions: dict[str, int]) -> tuple[str, dict[int, int]]:
        """One uninterrupted backfill into PostgreSQL: its URL and recorded offsets."""
        url = self.databases()
        result = self.backfill(url, f"{self.prefix}backfilled")
        assert result["rows"] == result["total_rows"] == len(versions)
        assert not result["resumed"]
        recorded = {int(p): o for p, o in result["offsets"].items()}
        assert recorded == end_offsets(self.bootstrap, self.topic)  # the router released all
        assert _versions(create_engine(url)) == versions  # the citizens' NPD versions
        return url, recorded

    def killed_and_resumed_backfill(
        self,
        versions: dict[str, int],
        recorded: dict[int, int],
        clean_url: str,
        rng: random.Random,
    ) -> None:
        """A backfill into SQLite SIGKILLed after a random number of rows, then run again."""
        url = f"sqlite:///{self.tmp / 'killed.sqlite'}"
        engine = create_engine(url)
        group = f"{self.prefix}killed"
        first = self.start(
            "killed.log",
            "backfill",
            SECTOR,
            "--database-url",
            url,
            "--npd-database-url",
            self.npd_url,
            "--group",
            group,
            "--batch-size",
            "5",
            "--workers",
            "1",
        )
        threshold = rng.randint(1, len(versions) // 3)
        deadline = time.monotonic() + 60
        try:
            while _progress(engine) < threshold:  # poll often: the whole run takes seconds
                assert first.poll() is None, "the backfill ended before it was killed"
                assert time.monotonic() < deadline, "no backfill progress"
                time.sleep(0.005)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        with engine.connect() as conn:
            state = checkpoint.load(conn, SECTOR)
        assert state is not None and state.state == checkpoint.LOADING, "killed too late"
        assert 0 < state.rows_written < len(versions)
        resumed = self.backfill(url, group)
        assert resumed["resumed"]
        assert resumed["rows"] == len(versions) - state.rows_written
        assert resumed["total_rows"] == len(versions)
        assert {int(p): o for p, o in resumed["offsets"].items()} == recorded
        assert _content(engine) == _content(create_engine(clean_url))

    def check_usage(self, versions: dict[str, int]) -> None:
        """Every backfilled row is a recorded release: one usage record per citizen version."""
        usage = Decoder(
            registry_client(self.settings.endpoints.registry_url),
            self.topics.data_usage,
            DataUsage,
        )
        records = (
            cast(DataUsage, usage.decode(m.value()))
            for m in read_all(self.bootstrap, self.topics.data_usage, timeout=120)
        )
        released = {
            (u.pin, u.citizen_version) for u in records if u.sector == SECTOR and u.event_id is None
        }
        assert released == set(versions.items())

    def wait_caught_up(
        self, group: str, ends: dict[int, int], process: subprocess.Popen[bytes]
    ) -> None:
        def caught_up() -> bool:
            committed = committed_offsets(self.bootstrap, group, self.topic, list(ends))
            return all(committed.get(p, 0) == o for p, o in ends.items())

        wait_until(caught_up, 90, f"group {group} at the end of {self.topic}", process)

    def reconcile(self, url: str) -> dict[str, Any]:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "reconcile",
                SECTOR,
                "--database-url",
                url,
                "--npd-database-url",
                self.npd_url,
                "--json",
            ],
            cwd=PROJECT_ROOT,
            env=worker_env(self.settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        report: dict[str, Any] = json.loads(out.stdout)["drift"]
        return report


# ---------------------------------------------------------------------- the population


def _generated_events(topology: Any, out: Path) -> list[dict[str, Any]]:
    generate(
        GeneratorConfig(
            citizens=CITIZENS,
            out_dir=out,
            seed=SEED,
            start=date(2024, 1, 1),
            end=date(2026, 11, 20),
        ),
        topology,
    )
    with (out / "events.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _domain(event_type: str) -> EventDomain:
    cls = EVENT_CLASSES[event_type]
    return next(d for d in EVENT_DOMAINS.values() if cls in d.events)


class _Router:
    """The sector router's batch logic over the changes not routed yet."""

    def __init__(self, settings: Settings, topics: Topics) -> None:
        self.router = SectorRouter(settings, group=f"{settings.topic_prefix}router")
        self.bootstrap = settings.endpoints.bootstrap_servers
        self.topic = topics.population_changes
        self.routed: set[tuple[int, int]] = set()

    def route_new(self) -> None:
        new = [
            RawRecord(self.topic, m.partition() or 0, m.offset() or 0, m.key(), m.value())
            for m in read_all(self.bootstrap, self.topic, timeout=120)
            if (m.partition(), m.offset()) not in self.routed
        ]
        for start in range(0, len(new), 500):
            self.router.process(new[start : start + 500])
        self.routed |= {(r.partition, r.offset) for r in new}


# ---------------------------------------------------------------------- processes


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _progress(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            state = checkpoint.load(conn, SECTOR)
    except sa.exc.OperationalError:  # not created yet, or locked by the writer
        return 0
    return state.rows_written if state else 0


# ---------------------------------------------------------------------- comparing


def _split_topic(
    settings: Settings, topics: Topics, offsets: dict[int, int]
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(PIN, version) of the sector topic's projections before and after `offsets`."""
    topic = topics.sector_topic(SECTOR)
    decoder = Decoder(registry_client(settings.endpoints.registry_url), topic, SectorProjection)
    before: list[tuple[str, int]] = []
    after: list[tuple[str, int]] = []
    for message in read_all(settings.endpoints.bootstrap_servers, topic, timeout=120):
        projection = cast(SectorProjection, decoder.decode(message.value()))
        side = after if (message.offset() or 0) >= offsets[message.partition() or 0] else before
        side.append((projection.pin, projection.version))
    return before, after


def _content(engine: Engine) -> Content:
    create_sector_schema(engine)
    table = sector_citizens
    query = select(table.c.pin, table.c.version, table.c.deceased, table.c.record)
    with engine.connect() as conn:
        return {r.pin: (int(r.version), bool(r.deceased), r.record) for r in conn.execute(query)}


def _versions(engine: Engine) -> dict[str, int]:
    return {pin: row[0] for pin, row in _content(engine).items()}
