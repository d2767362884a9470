"""bench/backfill: `databus backfill` of N citizens into a new PostgreSQL sector database, end to
end, beside raw COPY of the same rows.

    .venv/bin/python -m bench.backfill [--citizens N] [--batch-size B] [--workers W]
                                       [--database-url URL] [--results DIR]

Needs Kafka, the registry and PostgreSQL (`databus stack up --all`; endpoints from
DATABUS_BOOTSTRAP_SERVERS / DATABUS_REGISTRY_URL or the stack's state file; the PostgreSQL
server from `--database-url` or the stack's state). In one run, for the sector
`social-insurance` (the widest projection):

1. the source: a fresh population database whose `citizens` table gets N generated citizens
   (a generated pool repeated under new PINs, `bench/citizens.py`) by COPY; not measured;
2. ours: the backfill, called in-process exactly as `databus backfill` calls it (`Backfill(...)`
   then `run()`), into a fresh sector database, with the sector topic and `bus.data-usage.v1`
   fresh as well: seconds from the start to the hand-over (every row written, one usage record
   per citizen delivered, the offsets committed for the sink's group);
3. baseline: the rows it wrote, exported with `COPY ... TO STDOUT` (not measured), then raw
   `COPY ... FROM STDIN` into an identical empty table of another fresh database, committed;
   the fastest of three runs.

Prints both times and rates and the target (DESIGN.md §10: 1,000,000 citizens in at most 60 s);
writes `backfill.json`. Databases and topics are removed at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine

from bench.citizens import citizen_pool, replica_pins
from bench.common import RESULTS, machine, write_result
from bench.stack import bench_topics, fresh_database, psycopg_dsn, server_url
from consumers.backfill.replay import DEFAULT_WORKERS, Backfill
from consumers.sink.store import create_sector_schema
from databus.population.schema import create_population_schema
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics

SECTOR = "social-insurance"
TARGET_SECONDS = 60.0
TARGET_CITIZENS = 1_000_000
POOL = 20_000
SEED = 2027
REPEATS = 3
CHUNK = 1 << 20
COLUMNS = "pin, version, deceased, record, updated_at"


def _fill_population(url: str, pool: list[dict[str, Any]], count: int) -> float:
    """COPY `count` citizens (the pool repeated under new PINs) into `citizens`; seconds."""
    started = time.perf_counter()
    engine = create_engine(url)
    create_population_schema(engine)
    engine.dispose()
    texts = [json.dumps(record, ensure_ascii=False) for record in pool]
    pins = [str(record["pin"]) for record in pool]
    rng = random.Random(SEED)
    versions = [rng.randint(1, 9) for _ in pool]
    now = datetime.now(UTC)
    with psycopg.connect(psycopg_dsn(url)) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY citizens (pin, version, record, field_times, deceased, updated_at) FROM STDIN"
            ) as copy,
        ):
            for base, pin in replica_pins(pins, count):
                record = texts[base].replace(pins[base], pin)  # the PIN, and the card number
                copy.write_row((pin, versions[base], record, "{}", False, now))
        conn.commit()
        conn.execute("ANALYZE citizens")
    return time.perf_counter() - started


def _export(url: str) -> bytes:
    """The sector table's rows in COPY text format."""
    buffer = io.BytesIO()
    with (
        psycopg.connect(psycopg_dsn(url)) as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY sector_citizens ({COLUMNS}) TO STDOUT") as copy,
    ):
        for block in copy:
            buffer.write(block)
    return buffer.getvalue()


def _copy_seconds(url: str, data: bytes) -> list[float]:
    """Raw COPY of `data` into an empty `sector_citizens` table, committed; seconds per run."""
    engine = create_engine(url)
    create_sector_schema(engine)
    engine.dispose()
    runs = []
    view = memoryview(data)
    with psycopg.connect(psycopg_dsn(url)) as conn:
        for _ in range(REPEATS):
            conn.execute("TRUNCATE sector_citizens")
            conn.commit()
            started = time.perf_counter()
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY sector_citizens ({COLUMNS}) FROM STDIN") as copy,
            ):
                for at in range(0, len(data), CHUNK):
                    copy.write(view[at : at + CHUNK])
            conn.commit()
            runs.append(time.perf_counter() - started)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, default=TARGET_CITIZENS)
    parser.add_argument("--batch-size", type=int, default=5000, help="backfill batch size")
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help="backfill projecting processes"
    )
    parser.add_argument("--database-url", help="PostgreSQL server (default: the local stack's)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where to write backfill.json"
    )
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(topic_prefix=f"bench.backfill.{run_id}.")
    server = server_url(args.database_url, settings)
    topology = load_topology(settings.topology)
    topics = Topics.from_settings(settings, topology)
    names = [topics.sector_topic(SECTOR), topics.data_usage]
    print(
        f"bench/backfill on {machine()}, {args.citizens:,} citizens, batch {args.batch_size}, "
        f"{args.workers} workers"
    )
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        started = time.perf_counter()
        pool = citizen_pool(min(POOL, args.citizens), Path(tmp), topology, SEED)
        print(
            f"  generated a pool of {len(pool):,} citizens in {time.perf_counter() - started:.1f} s"
        )
    with (
        bench_topics(settings, names),
        fresh_database(server, f"bench_npd_{run_id}") as npd_url,
        fresh_database(server, f"bench_sector_{run_id}") as sector_url,
        fresh_database(server, f"bench_copy_{run_id}") as copy_url,
    ):
        filled = _fill_population(npd_url, pool, args.citizens)
        print(f"  population database: {args.citizens:,} citizens copied in {filled:.1f} s")
        del pool
        started = time.perf_counter()
        job = Backfill(
            settings,
            SECTOR,
            sector_url,
            npd_url,
            group=f"bench-backfill-{run_id}",
            batch_size=args.batch_size,
            workers=args.workers,
        )
        try:
            result = job.run()
        finally:
            job.close()
        seconds = time.perf_counter() - started
        if result.rows != args.citizens:
            raise SystemExit(f"the backfill wrote {result.rows} of {args.citizens} rows")
        data = _export(sector_url)
        copies = _copy_seconds(copy_url, data)

    ours = args.citizens / seconds
    copy = min(copies)
    baseline = args.citizens / copy
    target = TARGET_SECONDS * args.citizens / TARGET_CITIZENS
    print(f"  sector {SECTOR}, {len(data) / args.citizens:.0f} B per row in COPY text form")
    print(
        f"  ours: {seconds:6.1f} s  {ours:>9,.0f} rows/s  backfill end to end (read, project, "
        f"{args.citizens:,} usage records delivered, COPY + upsert, hand-over)"
    )
    runs = ", ".join(f"{s:.1f}" for s in copies)
    print(
        f"  baseline: {copy:6.1f} s  {baseline:>9,.0f} rows/s  raw COPY of the same rows into an "
        f"empty table (best of {runs} s)"
    )
    print(f"  ratio ours / COPY = {ours / baseline:.3f}")
    print(
        f"  target <= {target:.1f} s for {args.citizens:,} citizens "
        f"({TARGET_SECONDS:.0f} s per million): {'met' if seconds <= target else 'NOT met'}"
    )
    command = (
        f"python -m bench.backfill --citizens {args.citizens} --batch-size {args.batch_size} "
        f"--workers {args.workers}"
    )
    path = write_result(
        "backfill",
        "backfill rows/s end to end into a new PostgreSQL sector database",
        ours,
        baseline,
        unit="rows/s",
        command=command,
        results_dir=args.results,
        sector=SECTOR,
        citizens=args.citizens,
        batch_size=args.batch_size,
        workers=args.workers,
        seconds=round(seconds, 1),
        target_seconds=round(target, 1),
        baseline_is="raw COPY of the rows the backfill wrote into an identical empty table",
        baseline_seconds=round(copy, 1),
        baseline_runs=[round(s, 2) for s in copies],
        population_fill_seconds=round(filled, 1),
    )
    print(f"  wrote {path}")
    print(f"  command: {command}")


if __name__ == "__main__":
    main()
