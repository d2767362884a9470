"""bench/sync_apply: the population sync's apply path in-process, without Kafka.

    .venv/bin/python -m bench.sync_apply [--events N] [--batch-size B] [--database-url URL]
                                         [--profile FILE] [--digest] [--births]

Needs PostgreSQL (`databus stack up --all`, or `--database-url`). In one run:

1. generates a population large enough for N events (`producers.generator`, as bench/sync
   does) and takes the first N events in recorded-time order; with `--births`, N births of
   new citizens instead, the events bench/e2e publishes (`bench.e2e.births`);
2. builds every event's model up front (`schemas.codec.event_from_data`: no Kafka, no Avro
   decoding, outside the timing);
3. applies them in batches of B (500, the worker's default) through the worker's own
   `PopulationApplier` and `PopulationOutbox`, one transaction per batch, into a fresh
   database of the server, after `databus.runtime.tune_gc` as the worker does; timed.

Prints events/s over the whole apply, the rows and the WAL written per event, and the CPU
time of this process (the Python side, PostgreSQL's own work left out) per event: on a shared
machine the wall-clock rate follows the load, the CPU per event much less. `--profile FILE`
runs the apply under cProfile and writes its statistics to FILE (and prints the top entries;
the rate is then lower). `--digest` prints a SHA-256 of what was written (citizens, facts one
row per fact, lineage one row per field, applied events, the outbox rows but for the random
event ids of citizen rows): the clock is fixed, so two branches that write the same rows print
the same digest. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from bench.common import machine
from bench.e2e import births
from bench.stack import fresh_database, server_url
from bench.sync import _events
from databus.outbox import create_outbox
from databus.population.schema import create_population_schema
from databus.runtime import tune_gc
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.models.envelope import Event
from streams.population.apply import Incoming, PopulationApplier
from streams.population.outbox import NPD_OUTBOX, PopulationOutbox

CLOCK = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
"""Every batch's `applied_at` (fixed: the digest must not depend on when it ran)."""

_DIGESTED = {
    "citizens": "SELECT pin, version, record::text, field_times::text, deceased FROM citizens",
    # one row per fact, as before facts were grouped per citizen and event: the digests compare
    "field_facts": "SELECT pin, f->>0, (f->1)::text, event_id, occurred_at, "
    "active AND NOT coalesce(fields_off ? (f->>0), false) "
    "FROM field_facts, jsonb_array_elements(facts) f",
    # one row per field, as before lineage grouped an event's fields: the digests compare
    "lineage": "SELECT pin, version, jsonb_array_elements_text(fields), event_id, event_type, "
    "source, action, occurred_at FROM lineage",
    "applied_events": "SELECT event_id, pin, event_type, source, change_type, outcome, version, "
    "occurred_at FROM applied_events",
    "outbox": "SELECT topic, msg_key, CASE WHEN event_type = 'Citizen' THEN '' ELSE event_id END, "
    f"event_type, schema_fingerprint, encode(body, 'hex') FROM {NPD_OUTBOX}",
}


def _domain(event_type: str, cache: dict[str, EventDomain]) -> EventDomain:
    found = cache.get(event_type)
    if found is None:
        cls = EVENT_CLASSES[event_type]
        found = cache[event_type] = next(d for d in EVENT_DOMAINS.values() if cls in d.events)
    return found


def _models(raw: list[dict[str, Any]]) -> list[Event]:
    cache: dict[str, EventDomain] = {}
    return [event_from_data(_domain(e["event_type"], cache), e) for e in raw]


def _apply(
    engine: Engine, applier: PopulationApplier, models: list[Event], batch: int
) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for start in range(0, len(models), batch):
        chunk = [Incoming(m) for m in models[start : start + batch]]
        with engine.begin() as conn:
            statuses.update(o.status for o in applier.apply_batch(conn, chunk))
    return statuses


_WRITTEN = ("citizens", "field_facts", "lineage", "applied_events", "pin_links", NPD_OUTBOX)
"""The tables an apply writes rows into (parked events left out: they come and go)."""


def _wal_position(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one())


def _footprint(engine: Engine, wal_before: str) -> tuple[dict[str, int], int]:
    """Rows in each written table, and bytes of WAL the server wrote since `wal_before`."""
    with engine.connect() as conn:
        rows = {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in _WRITTEN
        }
        wal: Any = conn.execute(
            text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :before)"), {"before": wal_before}
        ).scalar_one()
    return rows, int(wal)


def _digest(engine: Engine) -> str:
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name, query in _DIGESTED.items():
            rows = sorted(repr(tuple(row)) for row in conn.execute(text(query)))
            digest.update(f"{name}:{len(rows)}\n".encode())
            for row in rows:
                digest.update(row.encode())
    return digest.hexdigest()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_apply", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--digest", action="store_true")
    parser.add_argument("--births", action="store_true", help="bench/e2e's births instead")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    settings = Settings()
    server = server_url(args.database_url, settings)
    topology = load_topology(settings.topology)
    topics = Topics.from_settings(settings, topology)
    print(f"bench/sync_apply on {machine()}, {args.events:,} events, batches of {args.batch_size}")
    if args.births:
        raw, population = list(births(args.events)), args.events
    else:
        with tempfile.TemporaryDirectory(prefix="bench-sync-apply-") as tmp:
            raw, population = _events(topology, args.events, Path(tmp))
    started = time.perf_counter()
    models = _models(raw)
    print(
        f"  {population:,} citizens, {len(models):,} events built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    del raw
    with fresh_database(server, f"bench_sync_apply_{uuid.uuid4().hex[:8]}") as url:
        engine = create_engine(url)
        create_population_schema(engine)
        create_outbox(engine, NPD_OUTBOX)
        applier = PopulationApplier(topology, PopulationOutbox(topics), lambda: CLOCK)
        tune_gc()
        wal_before = _wal_position(engine)
        profiler = cProfile.Profile() if args.profile else None
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        statuses = _apply(engine, applier, models, args.batch_size)
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(f"  outcomes: {dict(sorted(statuses.items()))}")
        print(
            f"  applied {len(models):,} events in {seconds:.2f} s: "
            f"{len(models) / seconds:,.0f} events/s; this process's CPU "
            f"{cpu / len(models) * 1e6:,.0f} µs/event ({len(models) / cpu:,.0f} events per "
            "CPU-second)"
        )
        rows, wal = _footprint(engine, wal_before)
        print(
            f"  written per event: {sum(rows.values()) / len(models):.1f} rows ("
            + ", ".join(f"{table} {n / len(models):.1f}" for table, n in rows.items())
            + f"), {wal / len(models) / 1024:.1f} KiB of WAL"
        )
        if args.digest:
            print(f"  digest {_digest(engine)}")
        engine.dispose()
    if profiler is not None and args.profile is not None:
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
