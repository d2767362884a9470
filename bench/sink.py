"""bench/sink: sector sink throughput into PostgreSQL, beside raw COPY into an identical table.

    .venv/bin/python -m bench.sink [--rows N] [--batch-size B] [--database-url URL]
                                   [--results DIR]

Needs Kafka, the registry and PostgreSQL (`databus stack up --all`; endpoints from
DATABUS_BOOTSTRAP_SERVERS / DATABUS_REGISTRY_URL or the stack's state file; the PostgreSQL
server from `--database-url` or the stack's state). In one run, for the sector
`social-insurance` (the widest projection):

1. generates a pool of citizens (`producers.generator`) and repeats it under new PINs up to N;
2. insert phase: publishes N SectorProjection records (the router's snapshot projection,
   encoded through the registry, key PIN) to a fresh sector topic, then starts the real sink
   (`databus run sink`, its own process, a fresh database, its consumer group and offset
   commits) and measures from its first committed batch to its last, polling the group's
   committed offsets: committed rows/s;
3. update phase: stops the sink, publishes N newer versions of the same PINs (another
   household), restarts the sink (it continues from its committed offsets) and measures again;
4. baselines, in another fresh database on the same server, the fastest of three runs each:
   raw psycopg `cursor.copy` of the rows the sink wrote into an identical empty
   `sector_citizens` table (inserts); the update phase's rows by raw COPY into a staging table
   and one `INSERT ... ON CONFLICT DO UPDATE` of that table holding the insert phase's rows
   (updates: the same keys updated, not a second set of keys added).

Prints ours, the baseline, their ratio and the target (DESIGN.md §10: ≥ 0.30 for inserts,
≥ 0.25 for updates) per phase; writes `sink.json`. Databases and topics are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Producer
from sqlalchemy import create_engine, func, select

from bench.citizens import citizen_pool, replica_pins
from bench.common import RESULTS, machine, write_result
from bench.stack import (
    bench_topics,
    component_env,
    cpu_seconds,
    fresh_database,
    psycopg_dsn,
    server_url,
)
from consumers.monitor.group_watch import GroupWatch
from consumers.sink.store import create_sector_schema, sector_citizens
from databus.kafka_config import producer_config
from databus.projection import Snapshot, snapshot, snapshot_release
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.model import Sector
from databus.topology.topics import Topics

SECTOR = "social-insurance"
TARGET_INSERT = 0.30
TARGET_UPDATE = 0.25
POOL = 20_000
SEED = 2026
POLL_SECONDS = 0.02
STALL_SECONDS = 120.0
REPEATS = 3
"""Baseline runs; the fastest counts (the conservative choice for our ratio)."""
PROJECT_ROOT = Path(__file__).resolve().parents[1]
COLUMNS = "pin, version, deceased, record, updated_at"

Row = tuple[str, int, bool, str | None, datetime]


@dataclass
class SinkRun:
    """One measured phase of the sink: rows committed in the window, and its length."""

    rows: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# ---------------------------------------------------------------------- projections


class Releases:
    """SectorProjections of the pool's replicas, encoded through the registry."""

    def __init__(self, settings: Settings, sector: Sector, pool: list[dict[str, Any]]) -> None:
        topic = Topics.from_settings(settings).sector_topic(SECTOR)
        self.encoder = Encoder(
            registry_client(settings.endpoints.registry_url), topic, "SectorProjection"
        )
        self.sector = sector
        self.views: list[Snapshot] = [snapshot(sector, record) for record in pool]
        self.pins = [str(record["pin"]) for record in pool]
        rng = random.Random(SEED)
        self.versions = [rng.randint(1, 6) for _ in pool]

    def publish(self, producer: Producer, topic: str, count: int, *, update: bool) -> float:
        """Produce `count` projections (inserts, or each PIN's next version); seconds taken."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        for i, (base, pin) in enumerate(replica_pins(self.pins, count)):
            view = self.views[base]
            citizen = view.citizen.model_copy(update={"pin": pin})
            version = self.versions[base]
            fields = view.fields
            if update:
                version += 1
                fields = ["household_id"]
                citizen = citizen.model_copy(update={"household_id": f"HK{90_000_000_000 + i}"})
            release = snapshot_release(
                SECTOR, self.sector, pin, version, Snapshot(citizen, fields, view.deceased), now
            )
            value = self.encoder.encode(release.projection)
            while True:
                try:
                    producer.produce(topic, value, pin)
                    break
                except BufferError:
                    producer.poll(0.05)
        if producer.flush(120):
            raise SystemExit("the projections were not all delivered")
        return time.perf_counter() - started


# ---------------------------------------------------------------------- the sink


def _run_sink(
    settings: Settings,
    url: str,
    group: str,
    options: list[str],
    expected: int,
    log: Path,
) -> SinkRun:
    """Start `databus run sink` until the group has committed `expected` more records; the
    window is from its first commit to its last."""
    topic = Topics.from_settings(settings).sector_topic(SECTOR)
    committed = GroupWatch(settings.endpoints.bootstrap_servers, group, topic)
    before = committed.total()
    target = before + expected
    command = [
        sys.executable,
        "-m",
        "cli",
        "run",
        "sink",
        SECTOR,
        "--database-url",
        url,
        "--group",
        group,
        *options,
    ]
    with log.open("ab") as handle:
        sink = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=component_env(settings),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        first: tuple[float, int, float] | None = None
        last, last_change = before, time.monotonic()
        while True:
            count, now = committed.total(), time.monotonic()
            if count != last:
                last, last_change = count, now
                if first is None:
                    first = (now, count, cpu_seconds(sink.pid))
            if count >= target and first is not None:
                cpu = cpu_seconds(sink.pid) - first[2]
                return SinkRun(count - first[1], now - first[0], cpu)
            if sink.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"the sink exited ({sink.returncode}):\n{tail}")
            if now - last_change > STALL_SECONDS:
                raise SystemExit(f"the sink stalled at {count - before} of {expected} records")
            time.sleep(POLL_SECONDS)
    finally:
        committed.close()
        if sink.poll() is None:
            os.killpg(sink.pid, signal.SIGTERM)
            try:
                sink.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(sink.pid, signal.SIGKILL)
                sink.wait(10)


def _rows(url: str) -> list[Row]:
    """Every row the sink wrote, as COPY takes them."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                sector_citizens.c.pin,
                sector_citizens.c.version,
                sector_citizens.c.deceased,
                sector_citizens.c.record,
                sector_citizens.c.updated_at,
            )
        ).all()
    engine.dispose()
    return [(r.pin, int(r.version), bool(r.deceased), r.record, r.updated_at) for r in rows]


def _versions(url: str) -> dict[int, int]:
    """How many rows the sink holds at each version."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            select(sector_citizens.c.version, func.count()).group_by(sector_citizens.c.version)
        ).all()
    engine.dispose()
    return {int(row[0]): int(row[1]) for row in found}


# ---------------------------------------------------------------------- the baselines


def _copy(conn: psycopg.Connection[Any], table: str, rows: list[Row]) -> None:
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_rates(url: str, rows: list[Row]) -> list[float]:
    """Raw COPY of `rows` into an empty `sector_citizens` table (the sink's DDL), committed;
    rows/s of each of REPEATS runs."""
    engine = create_engine(url)
    create_sector_schema(engine)
    engine.dispose()
    rates = []
    with psycopg.connect(psycopg_dsn(url)) as conn:
        for _ in range(REPEATS):
            conn.execute("TRUNCATE sector_citizens")
            conn.commit()
            started = time.perf_counter()
            _copy(conn, "sector_citizens", rows)
            conn.commit()
            rates.append(len(rows) / (time.perf_counter() - started))
    return rates


def _upsert_rates(url: str, old: list[Row], new: list[Row]) -> list[float]:
    """Raw COPY of `new` into a staging table and one INSERT ... ON CONFLICT DO UPDATE (newer
    versions only) into the `sector_citizens` table holding `old`, committed; rows/s of each
    of REPEATS runs (the table refilled with `old` before each, untimed)."""
    rates = []
    with psycopg.connect(psycopg_dsn(url)) as conn:
        for _ in range(REPEATS):
            conn.execute("TRUNCATE sector_citizens")
            _copy(conn, "sector_citizens", old)
            conn.commit()
            started = time.perf_counter()
            conn.execute(
                "CREATE TEMP TABLE staging (LIKE sector_citizens INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            _copy(conn, "staging", new)
            updated = conn.execute(
                f"INSERT INTO sector_citizens ({COLUMNS}) SELECT {COLUMNS} FROM staging "
                "ON CONFLICT (pin) DO UPDATE SET version = EXCLUDED.version, "
                "deceased = EXCLUDED.deceased, record = EXCLUDED.record, "
                "updated_at = EXCLUDED.updated_at "
                "WHERE EXCLUDED.version > sector_citizens.version"
            ).rowcount
            conn.commit()
            rates.append(len(new) / (time.perf_counter() - started))
            if updated != len(new):
                raise SystemExit(f"the baseline updated {updated} of {len(new)} rows")
    return rates


# ---------------------------------------------------------------------- main


def _check(url: str, releases: Releases, rows: int, step: int) -> None:
    """Every replica is in the sink's table at its phase's version."""
    expected: dict[int, int] = {}
    for base, _pin in replica_pins(releases.pins, rows):
        version = releases.versions[base] + step
        expected[version] = expected.get(version, 0) + 1
    found = _versions(url)
    if found != expected:
        raise SystemExit(f"the sink's table does not hold the expected versions: {found}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000, help="sink records per batch")
    parser.add_argument("--database-url", help="PostgreSQL server (default: the local stack's)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write sink.json")
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(topic_prefix=f"bench.sink.{run_id}.")
    server = server_url(args.database_url, settings)
    topology = load_topology(settings.topology)
    topics = Topics.from_settings(settings, topology)
    topic = topics.sector_topic(SECTOR)
    group = f"bench-sink-{run_id}"
    options = ["--batch-size", str(args.batch_size)]
    print(f"bench/sink on {machine()}, {args.rows:,} rows, sink batch {args.batch_size}")
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        pool = citizen_pool(min(POOL, args.rows), workdir, topology, SEED)
        print(
            f"  generated a pool of {len(pool):,} citizens in {time.perf_counter() - started:.1f} s"
        )
        with (
            bench_topics(settings, [topic, topics.dead_letter]),
            fresh_database(server, f"bench_sink_{run_id}") as sink_url,
            fresh_database(server, f"bench_copy_{run_id}") as copy_url,
        ):
            releases = Releases(settings, topology.sectors[SECTOR], pool)
            producer = Producer(producer_config(settings.endpoints.bootstrap_servers, "bench-sink"))
            log = workdir / "sink.log"
            published = releases.publish(producer, topic, args.rows, update=False)
            print(f"  published {args.rows:,} insert projections in {published:.1f} s")
            inserts = _run_sink(settings, sink_url, group, options, args.rows, log)
            _check(sink_url, releases, args.rows, 0)
            insert_rows = _rows(sink_url)
            published = releases.publish(producer, topic, args.rows, update=True)
            print(f"  published {args.rows:,} update projections in {published:.1f} s")
            updates = _run_sink(settings, sink_url, group, options, args.rows, log)
            _check(sink_url, releases, args.rows, 1)
            update_rows = _rows(sink_url)
            copy_inserts = _copy_rates(copy_url, insert_rows)
            copy_updates = _upsert_rates(copy_url, insert_rows, update_rows)
            record_bytes = sum(len(r[3] or "") for r in update_rows) / len(update_rows)

    copy_insert, copy_update = max(copy_inserts), max(copy_updates)
    print(f"  sector {SECTOR}, mean stored record {record_bytes:.0f} B")
    phases = [
        ("inserts", inserts, copy_inserts, TARGET_INSERT, "raw COPY into an empty table"),
        (
            "updates",
            updates,
            copy_updates,
            TARGET_UPDATE,
            "raw COPY into a staging table + one INSERT ... ON CONFLICT DO UPDATE",
        ),
    ]
    for name, run, baselines, target, what in phases:
        baseline = max(baselines)
        ratio = run.rate / baseline
        print(
            f"  {name}: ours {run.rate:>9,.0f} rows/s (the sink: {run.rows:,} rows committed in "
            f"{run.seconds:.1f} s, sink CPU {run.cpu_seconds / run.seconds:.0%} of one core)"
        )
        runs = ", ".join(f"{rate:,.0f}" for rate in baselines)
        print(f"  {name}: baseline {baseline:>9,.0f} rows/s ({what}; best of {runs})")
        print(
            f"  {name}: ratio ours / baseline = {ratio:.3f}, target >= {target:.2f}: "
            f"{'met' if ratio >= target else 'NOT met'}"
        )
    command = f"python -m bench.sink --rows {args.rows} --batch-size {args.batch_size}"
    path = write_result(
        "sink",
        "sector sink committed rows/s into PostgreSQL, inserts (updates in ours_update)",
        inserts.rate,
        copy_insert,
        unit="rows/s",
        command=command,
        results_dir=args.results,
        sector=SECTOR,
        rows=args.rows,
        batch_size=args.batch_size,
        mean_record_bytes=round(record_bytes, 1),
        baseline_is="raw psycopg COPY of the same rows into an identical empty table (best of 3)",
        baseline_runs=[round(rate, 1) for rate in copy_inserts],
        target=TARGET_INSERT,
        sink_cpu_share=round(inserts.cpu_seconds / inserts.seconds, 2),
        ours_update=round(updates.rate, 1),
        baseline_update=round(copy_update, 1),
        ratio_update=round(updates.rate / copy_update, 3),
        baseline_update_is=(
            "raw COPY of the new versions into a staging table + one INSERT ... ON CONFLICT "
            "DO UPDATE of the identical table holding the old versions (best of 3)"
        ),
        baseline_update_runs=[round(rate, 1) for rate in copy_updates],
        target_update=TARGET_UPDATE,
        sink_cpu_share_update=round(updates.cpu_seconds / updates.seconds, 2),
    )
    print(f"  wrote {path}")
    print(f"  command: {command}")


if __name__ == "__main__":
    main()
