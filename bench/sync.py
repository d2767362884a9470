"""bench/sync: sustained population-sync throughput into PostgreSQL, beside raw COPY.

    .venv/bin/python -m bench.sync [--events N] [--batch-size B] [--database-url URL]
                                   [--results DIR] [--workers N] [--secure [--secure-stack-dir DIR]]

Needs Kafka, the registry and PostgreSQL (`databus stack up --all`; endpoints from
DATABUS_BOOTSTRAP_SERVERS / DATABUS_REGISTRY_URL or the stack's state file; the PostgreSQL
server from `--database-url` or the stack's state). In one run:

1. generates a population large enough for N events (`producers.generator`) and takes the
   first N events in recorded-time order;
2. publishes them all through the SDK (one Publisher per source) onto fresh topics, timed on
   its own;
3. starts the faust worker (`databus run population-sync`, its own process) on a fresh
   database, waits until its consumer group has committed every source partition to the end
   (read from Kafka once a second, so that the measurement puts no load on the database), then
   takes the rate from the batches' `applied_at` stamps: events applied between the start of
   the first batch and the start of the last one, over that time: ours, in events/s;
4. baseline: raw COPY of N citizen rows (pin, version, record JSON, field_times JSON,
   deceased, updated_at, taken from the citizens the worker wrote) into an identical, empty
   `citizens` table of another fresh database, with psycopg's `cursor.copy`: rows/s.

With `--workers N` (N > 1), step 3 is repeated for 2, ..., N worker processes in one consumer
group, each count with a group and a fresh database of its own, on the same published events;
the rate of each count is printed beside one worker's.

Prints both rates, their ratio and the target (DESIGN.md §10: ≥ 5,000 events/s); writes
`sync.json`. The databases, the topics and the generated files are removed at the end.

With `--secure` (the secure stack up: `databus stack up --secure`), steps 2 and 3 run once more
on the secure stack: every agency publishes under its own principal and signs each event, the
worker runs as `bus.population-sync` (TLS + SASL/SCRAM + ACLs) and checks every signature
(required). Prints the secure rate beside the plain one (the ratio is the cost of TLS + SASL +
signing) and writes `sync-secure.json`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, func, select

from bench.common import RESULTS, machine, write_result
from bench.secure import DEFAULT_DIR, SecureBench, secure_bench
from bench.stack import component_env, cpu_seconds, delete_topics, fresh_database, server_url
from consumers.monitor.group_watch import GroupWatch
from databus.contracts import bindings
from databus.dead_letter import H_REASON
from databus.kafka_admin import apply_topics
from databus.population.schema import (
    applied_events,
    citizens,
    create_population_schema,
    parked_events,
)
from databus.schema_admin import RegistryAdmin, register_all
from databus.security.principals import POPULATION_SYNC, agency_principal
from databus.settings import Settings
from databus.topic_reader import header, read_all
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics
from producers.generator import GeneratorConfig, generate
from producers.sdk import Publisher
from schemas.avro_files import AVRO_DIR

TARGET = 5_000
EVENTS_PER_CITIZEN = 7.0
"""A little under what the generator gives (about 7.4 events per citizen from 2024)."""
SEED = 2026
STALL_SECONDS = 120.0
QUIET_SECONDS = 10.0
"""No progress for this long: count the dead letters (refused events are not in the table)."""


@dataclass
class SyncRun:
    """What the worker did, from the population database once it had consumed everything."""

    applied: int
    """Events applied (each has an `applied_events` row stamped with its batch's start)."""
    last_batch: int
    """Events applied by the last batch (its end is not stamped: left out of the rate)."""
    seconds: float
    """From the start of the first batch to the start of the last one."""
    cpu_seconds: float
    """Worker CPU from its first commit to the end."""
    wall_seconds: float
    peak_parked: int
    left_parked: int
    dead_letters: dict[str, int]

    @property
    def rate(self) -> float:
        return (self.applied - self.last_batch) / self.seconds if self.seconds else 0.0


# ---------------------------------------------------------------------- databases


# ---------------------------------------------------------------------- events


def _events(topology: Topology, count: int, workdir: Path) -> tuple[list[dict[str, Any]], int]:
    """The first `count` events (recorded-time order) of a large enough population."""
    citizens_needed = max(50, math.ceil(count / EVENTS_PER_CITIZEN))
    while True:
        out = workdir / f"population-{citizens_needed}"
        report = generate(
            GeneratorConfig(
                citizens=citizens_needed,
                out_dir=out,
                seed=SEED,
                start=date(2024, 1, 1),
                end=date(2026, 11, 20),
            ),
            topology,
        )
        if report.events >= count:
            break
        citizens_needed = math.ceil(citizens_needed * count / report.events * 1.05)
    events: list[dict[str, Any]] = []
    with (out / "events.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events, citizens_needed


def _publisher(settings: Settings, source: str, secure: SecureBench | None) -> Publisher:
    """The SDK publisher of `source`: on the secure stack, as its agency's principal, signing."""
    if secure is None:
        return Publisher.for_source(source, settings=settings, heartbeats=False)
    agency = agency_principal(secure.topology.source(source).agency)
    with secure.acting_as(agency):
        return Publisher.for_source(
            source, settings=settings, heartbeats=False, signer=secure.signer(source)
        )


def _publish(
    settings: Settings,
    topology: Topology,
    events: list[dict[str, Any]],
    secure: SecureBench | None = None,
) -> float:
    """Publish through one SDK Publisher per source; seconds until all are acknowledged."""
    publishers = {name: _publisher(settings, name, secure) for name in topology.sources}
    started = time.perf_counter()
    try:
        for event in events:
            publishers[topology.source_of_event_type(event["event_type"])].publish(event)
        for publisher in publishers.values():
            report = publisher.flush(120)
            if not report.complete:
                raise SystemExit(f"publish: {len(report.pending)} pending, {len(report.failed)}")
        return time.perf_counter() - started
    finally:
        for publisher in publishers.values():
            publisher.close(10)


# ---------------------------------------------------------------------- the worker


def _dead_letters(settings: Settings) -> dict[str, int]:
    """Dead letters of this run by reason."""
    topic = Topics.from_settings(settings).dead_letter
    found = Counter(
        header(m, H_REASON) for m in read_all(settings.endpoints.bootstrap_servers, topic)
    )
    return dict(found)


def _parked(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(parked_events)).scalar() or 0)


def _applied_window(engine: Engine) -> tuple[int, int, float]:
    """(events applied, events of the last batch, seconds from the first batch's start to the
    last one's), from the `applied_at` stamps."""
    with engine.connect() as conn:
        window: tuple[int, datetime | None, datetime | None] = (
            conn.execute(
                select(
                    func.count(),
                    func.min(applied_events.c.applied_at),
                    func.max(applied_events.c.applied_at),
                )
            )
            .one()
            ._tuple()
        )
        count, first, last = window
        in_last = conn.execute(
            select(func.count()).where(applied_events.c.applied_at == last)
        ).scalar()
    seconds = (last - first).total_seconds() if first and last else 0.0
    return int(count), int(in_last or 0), seconds


def _run_worker(
    settings: Settings,
    url: str,
    batch_size: int,
    workdir: Path,
    workers: int = 1,
    identity: dict[str, str] | None = None,
) -> SyncRun:
    """Start `workers` worker processes (one consumer group) on pre-published events and wait
    until the group has committed every source partition to its end (Kafka's own view, read
    once a second; nothing polls the population database meanwhile but the small
    parked-events table). The rate comes from the batches' `applied_at` stamps afterwards.
    `identity`: the workers' only Kafka identity (the secure run), else this process's.

    The first N events of a population can hold a few whose birth is recorded after the N-th:
    they stay parked (counted apart), as do the dead letters.
    """
    engine = create_engine(url)
    create_population_schema(engine)
    # one worker uses the component's own group (the one its ACL names, in the secure run)
    group = f"{settings.topic_prefix}population-sync" + (f"-{workers}" if workers > 1 else "")
    topology = load_topology(settings.topology)
    topics = Topics.from_settings(settings, topology)
    sources = [topics.source_topic(name) for name in topology.sources]
    command = [
        sys.executable,
        "-m",
        "cli",
        "run",
        "population-sync",
        "--database-url",
        url,
        "--group",
        group,
        "--batch-size",
        str(batch_size),
    ]
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    for n in range(workers):
        home = workdir / f"workers-{workers}-{n}"
        home.mkdir(parents=True)
        log = home / "worker.log"
        with log.open("ab") as handle:
            processes.append(
                (
                    subprocess.Popen(
                        command,
                        cwd=home,  # faust keeps its data directory in the working directory
                        env=_worker_env(settings, identity),
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    ),
                    log,
                )
            )

    def cpu() -> float:
        return sum(cpu_seconds(p.pid) for p, _ in processes)

    offsets = GroupWatch(settings.endpoints.bootstrap_servers, group, sources)
    try:
        started, cpu_at_first, peak = 0.0, 0.0, 0
        last_committed, last_change = -1, time.monotonic()
        while True:
            time.sleep(1.0)
            lag = offsets.positions()
            committed = sum(p.committed or 0 for p in lag)
            now = time.monotonic()
            parked = _parked(engine)
            peak = max(peak, parked)
            if committed and not started:
                started, cpu_at_first = now, cpu()
            if committed != last_committed:
                last_committed, last_change = committed, now
            if all(p.lag == 0 for p in lag):
                used = cpu() - cpu_at_first
                applied, in_last, seconds = _applied_window(engine)
                return SyncRun(
                    applied,
                    in_last,
                    seconds,
                    used,
                    now - started,
                    peak,
                    parked,
                    _dead_letters(settings),
                )
            for worker, log in processes:
                if worker.poll() is not None:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"a worker exited ({worker.returncode}):\n{tail}")
            if now - last_change > STALL_SECONDS:
                raise SystemExit(
                    f"the workers stalled: lag {sum(p.lag for p in lag)} after {committed} "
                    "committed offsets"
                )
    finally:
        for worker, _ in processes:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker, _ in processes:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
        offsets.close()
        engine.dispose()


def _worker_env(settings: Settings, identity: dict[str, str] | None) -> dict[str, str]:
    """The worker's environment: this process's, or only `identity` as its Kafka identity."""
    env = component_env(settings)
    if identity is not None:
        env = {k: v for k, v in env.items() if not k.startswith("DATABUS_KAFKA_")} | identity
    return env


# ---------------------------------------------------------------------- the baseline


def _copy_rows(url: str, count: int) -> list[tuple[Any, ...]]:
    """`count` citizen rows for COPY: the worker's citizens, repeated under new PINs."""
    engine = create_engine(url)
    with engine.connect() as conn:
        sample = conn.execute(
            select(
                citizens.c.version, citizens.c.record, citizens.c.field_times, citizens.c.deceased
            )
        ).all()
    engine.dispose()
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    for i in range(count):
        version, record, times, deceased = sample[i % len(sample)]
        rows.append((f"{i:012d}", version, json.dumps(record), json.dumps(times), deceased, now))
    return rows


def _copy_rate(url: str, rows: list[tuple[Any, ...]]) -> float:
    """Raw COPY of `rows` into an empty `citizens` table (the NPD's DDL), rows/s."""
    engine = create_engine(url)
    create_population_schema(engine)
    engine.dispose()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY citizens (pin, version, record, field_times, deceased, updated_at) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - started)


# ---------------------------------------------------------------------- main


def _more_workers(
    settings: Settings, server: str, args: argparse.Namespace, workdir: Path, run_id: str
) -> dict[int, SyncRun]:
    """Runs of 2 ... `args.workers` workers, each on a fresh database."""
    runs = {}
    for workers in range(2, args.workers + 1):
        with fresh_database(server, f"bench_sync_{run_id}_{workers}") as url:
            runs[workers] = _run_worker(settings, url, args.batch_size, workdir, workers)
    return runs


def _print_workers(runs: dict[int, SyncRun]) -> None:
    """The rate of each count of workers beyond one, beside one worker's."""
    one = runs[1].rate
    for workers, more in sorted(runs.items())[1:]:
        share = more.cpu_seconds / more.wall_seconds if more.wall_seconds else 0.0
        print(
            f"  {more.rate:>10,.0f} events/s  {workers} workers in one group "
            f"({more.rate / one:.2f} x one worker; workers' CPU {share:.0%} of one core, "
            f"{more.left_parked} left parked)"
        )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=500, help="worker events per batch")
    parser.add_argument("--database-url", help="PostgreSQL server (default: the local stack's)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write sync.json")
    parser.add_argument(
        "--workers",
        type=lambda text: max(1, int(text)),
        default=1,
        help="measure 1, 2, ... up to this many worker processes in one consumer group, each "
        "count on a fresh database, all on the same published events",
    )
    parser.add_argument(
        "--secure", action="store_true", help="also run on the secure stack, signed"
    )
    parser.add_argument("--secure-stack-dir", type=Path, default=DEFAULT_DIR)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(topic_prefix=f"bench.sync.{run_id}.")
    server = server_url(args.database_url, settings)
    endpoints = settings.endpoints
    topology = load_topology(settings.topology)
    topics = Topics.from_settings(settings, topology)
    print(f"bench/sync on {machine()}, {args.events:,} events, worker batch {args.batch_size}")
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        events, population = _events(topology, args.events, workdir)
        distinct = len({e["event_id"] for e in events})
        print(
            f"  generated {population:,} citizens, took their first {len(events):,} events "
            f"in {time.perf_counter() - started:.1f} s"
        )
        names = [spec.name for spec in topics.specs()]
        apply_topics(endpoints.bootstrap_servers, topics.specs())
        try:
            register_all(RegistryAdmin(endpoints.registry_url), bindings(topics), AVRO_DIR)
            publish_seconds = _publish(settings, topology, events)
            print(
                f"  published in {publish_seconds:.1f} s "
                f"({len(events) / publish_seconds:,.0f} events/s through the SDK)"
            )
            if not args.secure:
                del events
            with (
                fresh_database(server, f"bench_sync_{run_id}") as sync_url,
                fresh_database(server, f"bench_copy_{run_id}") as copy_url,
            ):
                runs = {1: _run_worker(settings, sync_url, args.batch_size, workdir)}
                rows = _copy_rows(sync_url, distinct)
                copy = _copy_rate(copy_url, rows)
            runs.update(_more_workers(settings, server, args, workdir, run_id))
        finally:
            delete_topics(endpoints.bootstrap_servers, names)
        if args.secure:
            secure_run, secure_publish = _secure_sync(args, events, run_id, server, workdir)

    run = runs[1]
    ours = run.rate
    share = run.cpu_seconds / run.wall_seconds if run.wall_seconds else 0.0
    print(
        f"  {ours:>10,.0f} events/s  ours: faust worker, decode + apply + outbox, one "
        f"transaction per batch ({run.applied - run.last_batch:,} events applied between the "
        f"first and the last batch, {run.seconds:.1f} s; worker CPU {share:.0%} of one core; up "
        f"to {run.peak_parked:,} events parked at once, {run.left_parked} left waiting for a "
        "birth past the cut)"
    )
    if run.dead_letters:
        print(f"  dead letters: {run.dead_letters}")
    print(f"  {copy:>10,.0f} rows/s    baseline: raw COPY of citizen rows into `citizens`")
    print(f"  ratio ours / COPY = {ours / copy:.3f}")
    print(
        f"  target >= {TARGET:,} events/s sustained: {'met' if ours >= TARGET else 'NOT met'} "
        f"({ours:,.0f})"
    )
    _print_workers(runs)
    command = f"python -m bench.sync --events {args.events} --batch-size {args.batch_size}" + (
        f" --workers {args.workers}" if args.workers > 1 else ""
    )
    path = write_result(
        "sync",
        "population-sync events/s into PostgreSQL (faust worker, pre-published events)",
        ours,
        copy,
        unit="events/s",
        command=command,
        results_dir=args.results,
        events=distinct,
        citizens=population,
        batch_size=args.batch_size,
        target=TARGET,
        baseline_what="raw COPY rows/s of citizen rows into an empty citizens table",
        publish_seconds=round(publish_seconds, 1),
        publish_events_per_second=round(distinct / publish_seconds, 1),
        applied=run.applied,
        sync_seconds=round(run.seconds, 1),
        worker_cpu_share=round(share, 2),
        peak_parked=run.peak_parked,
        left_parked=run.left_parked,
        dead_letters=run.dead_letters,
        rates_by_workers={str(w): round(r.rate, 1) for w, r in sorted(runs.items())},
        cpu_share_by_workers={
            str(w): round(r.cpu_seconds / r.wall_seconds, 2) if r.wall_seconds else 0.0
            for w, r in sorted(runs.items())
        },
    )
    print(f"  wrote {path}")
    print(f"  command: {command}")
    if args.secure:
        _report_secure(args, secure_run, secure_publish, run, publish_seconds, distinct)


def _secure_sync(
    args: argparse.Namespace,
    events: list[dict[str, Any]],
    run_id: str,
    server: str,
    workdir: Path,
) -> tuple[SyncRun, float]:
    """Steps 2 and 3 on the secure stack: signed publishing by each agency, the worker as its
    own principal checking every signature. (The run, the publishing seconds.)"""
    secure_dir = workdir / "secure"
    secure_dir.mkdir()
    prefix = f"bench.sync.{run_id}.secure."
    with secure_bench(args.secure_stack_dir, prefix, secure_dir) as secure:
        settings = secure.settings
        publish_seconds = _publish(settings, secure.topology, events, secure)
        print(
            f"  secure: published (signed) in {publish_seconds:.1f} s "
            f"({len(events) / publish_seconds:,.0f} events/s through the SDK)"
        )
        with (
            secure.acting_as(None),  # the bench's own watching: as the admin
            fresh_database(server, f"bench_sync_{run_id}_secure") as url,
        ):
            identity = secure.identity(POPULATION_SYNC)
            run = _run_worker(settings, url, args.batch_size, secure_dir, identity=identity)
    return run, publish_seconds


def _report_secure(
    args: argparse.Namespace,
    run: SyncRun,
    publish_seconds: float,
    plain: SyncRun,
    plain_publish_seconds: float,
    events: int,
) -> None:
    secure, ours = run.rate, plain.rate
    print(
        f"  {secure:>10,.0f} events/s  ours on the secure stack: TLS + SASL/SCRAM-SHA-512 + "
        f"ACLs, worker as {POPULATION_SYNC}, every signature checked (required; "
        f"{run.applied - run.last_batch:,} events in {run.seconds:.1f} s)"
    )
    if run.dead_letters:
        print(f"  secure dead letters: {run.dead_letters}")
    print(f"  ratio secure / plain = {secure / ours:.3f} (the cost of TLS + SASL + verifying)")
    print(
        f"  publishing: {events / publish_seconds:,.0f} events/s signed over TLS + SASL beside "
        f"{events / plain_publish_seconds:,.0f} events/s plain "
        f"(ratio {plain_publish_seconds / publish_seconds:.2f})"
    )
    command = f"python -m bench.sync --events {args.events} --batch-size {args.batch_size} --secure"
    path = write_result(
        "sync-secure",
        "population-sync events/s on the secure stack (TLS+SASL+ACLs, signatures required) "
        "beside plain",
        secure,
        ours,
        unit="events/s",
        command=command,
        results_dir=args.results,
        events=events,
        batch_size=args.batch_size,
        baseline_what="the same worker on the plain stack, same events, same run",
        publish_events_per_second=round(events / publish_seconds, 1),
        plain_publish_events_per_second=round(events / plain_publish_seconds, 1),
        applied=run.applied,
        sync_seconds=round(run.seconds, 1),
        dead_letters=run.dead_letters,
    )
    print(f"  wrote {path}")
    print(f"  command: {command}")


if __name__ == "__main__":
    main()
