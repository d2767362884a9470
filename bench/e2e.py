"""bench/e2e: latency from publishing a ministry event to the sector row committed.

    .venv/bin/python -m bench.e2e [--rate R] [--seconds S] [--warmup W] [--sector SECTOR]
                                  [--database-url URL] [--results DIR]
    .venv/bin/python -m bench.e2e --rates R1,R2,... [--seconds S] ...   (bench/e2e_curve.py)

Needs Kafka, the registry and PostgreSQL (`databus stack up --all`). In one run, on fresh
topics and two fresh PostgreSQL databases (the population database and the sector's):

1. starts the whole path as separate processes, as in production: `databus run
   population-sync`, `databus run outbox-relay` (the population database's outbox),
   `databus run router` and `databus run sink SECTOR`, with their adaptive batches (nothing
   waits for a batch to fill): the relay is woken by the population sync's commit (its idle
   sleep of 0.5 s is only the fallback), the sink hands over its first record at once,
   population-sync and the router linger `E2E_LINGER` seconds for more (default 0);
2. publishes births of new citizens through the SDK at R events/s for S seconds, paced, noting
   the time of each `publish` call;
3. a trigger on the sector table notes every new row in a side table, which this process reads
   every 5 ms: the first time it sees a PIN is when its row became visible, i.e. committed
   (the latency is overstated by up to the 5 ms of polling, never understated);
4. prints p50, p99, p99.9 and the maximum of publish → sector row committed, over the events
   published after the first W seconds (warm-up), beside the same percentiles of Kafka's own
   `EndToEndLatency` tool (one produce → consume hop on the same broker, acks=all), measured in
   the same run, and each process's CPU share and peak memory while publishing
   (bench/e2e_usage.py); writes `e2e.json`.

With `--rates`, runs 2-4 once per rate on a fresh path and draws the saturation curve
(bench/e2e_curve.py).

The target (DESIGN.md §10): at 1,000 events/s for 5 minutes, p50 <= 50 ms and p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine

from bench.common import RESULTS, machine, write_result
from bench.e2e_stages import delays_ms, percentile, stage_delays, timeline
from bench.e2e_usage import Part, Usage, UsageSampler, usage_table
from bench.stack import (
    bench_topics,
    component_env,
    delete_topics,
    fresh_database,
    psycopg_dsn,
    server_url,
)
from consumers.sink.store import create_sector_schema
from databus.outbox import create_outbox
from databus.population.schema import create_population_schema
from databus.settings import Settings
from databus.stack.artifacts import java
from databus.stack.state import StackState
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.domain import make_pin
from schemas.examples import EXAMPLES

TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0
POLL_SECONDS = 0.005
DRAIN_SECONDS = 60.0
SOURCE = "civil-status"
LINGER = os.environ.get("E2E_LINGER", "0")
"""`--linger` of population-sync and the router (adaptive batches: 0 applies whatever arrived
while the previous batch was applied), see docs/benchmarks.md."""

_TRIGGER = """
CREATE TABLE e2e_arrivals (id BIGSERIAL PRIMARY KEY, pin VARCHAR(12) NOT NULL);
CREATE FUNCTION e2e_note() RETURNS trigger AS $$
BEGIN
  INSERT INTO e2e_arrivals (pin) VALUES (NEW.pin);
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER e2e_note AFTER INSERT ON sector_citizens
  FOR EACH ROW EXECUTE FUNCTION e2e_note();
"""


# ---------------------------------------------------------------------- events


def births(count: int, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """`count` births of distinct new citizens (no parents' PINs: nobody else changes)."""
    rng = random.Random(seed)
    template = EXAMPLES["BirthRegistered"]
    for serial in range(count):
        event = copy.deepcopy(template)
        born = date(2024, 1, 1) + timedelta(days=serial % 600)
        sex = "MALE" if serial % 2 else "FEMALE"
        event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event["subject_pin"] = make_pin("001", born, sex, serial % 1_000_000)
        payload = event["payload"]
        payload["date_of_birth"], payload["sex"] = born.isoformat(), sex
        payload["father"]["pin"] = None
        payload["mother"]["pin"] = None
        yield event


# ---------------------------------------------------------------------- the path


@dataclass
class Component:
    """One process of the path, with its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def check(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{self.name} exited ({self.process.returncode}):\n{tail}")


@contextmanager
def running_path(
    settings: Settings, sector: str, npd_url: str, sector_url: str, workdir: Path
) -> Iterator[list[Component]]:
    """population-sync, outbox relay, router and the sector's sink, each its own process."""
    prefix = settings.topic_prefix
    run = [sys.executable, "-m", "cli", "run"]
    commands = {
        "population-sync": [
            *run,
            "population-sync",
            "--database-url",
            npd_url,
            "--group",
            f"{prefix}population-sync",
            "--linger",
            LINGER,
        ],
        "outbox-relay": [
            *run,
            "outbox-relay",
            "--database-url",
            npd_url,
            "--table",
            "npd_outbox",
            "--idle-sleep",
            "0.5",  # woken by the population sync's pg_notify at commit; this is the fallback
        ],
        "router": [*run, "router", "--group", f"{prefix}router", "--linger", LINGER],
        "sink": [
            *run,
            "sink",
            sector,
            "--group",
            f"{prefix}sink-{sector}",
            "--max-wait",
            "0.5",  # the idle wait for a first record returns as soon as one arrives
        ],
    }
    env = component_env(
        settings, **{f"DATABUS_SECTOR_{sector.upper().replace('-', '_')}_DATABASE_URL": sector_url}
    )
    started: list[Component] = []
    try:
        for name, command in commands.items():
            log = workdir / f"{name}.log"
            home = workdir / name  # faust keeps a data directory in the working directory
            home.mkdir()
            with log.open("ab") as handle:
                process = subprocess.Popen(
                    command,
                    cwd=home,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started.append(Component(name, process, log))
        yield started
    finally:
        for component in started:
            if component.process.poll() is None:
                os.killpg(component.process.pid, signal.SIGTERM)
        for component in started:
            try:
                component.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(component.process.pid, signal.SIGKILL)
                component.process.wait(10)


# ---------------------------------------------------------------------- measuring


@dataclass
class Watcher:
    """Notes when each PIN's sector row became visible (committed)."""

    dsn: str
    seen: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            last = 0
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self.stop.is_set():
                    rows = conn.execute(
                        "SELECT id, pin FROM e2e_arrivals WHERE id > %s ORDER BY id", [last]
                    ).fetchall()
                    now = time.monotonic()
                    for row_id, pin in rows:
                        self.seen.setdefault(pin, now)
                        last = row_id
                    time.sleep(POLL_SECONDS)
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def _publish_paced(
    settings: Settings, events: Iterable[dict[str, Any]], rate: float, components: list[Component]
) -> tuple[dict[str, float], float]:
    """Publish at `rate`/s; (PIN -> time of its publish call, seconds it took)."""
    published: dict[str, float] = {}
    publisher = Publisher.for_source(SOURCE, settings=settings, heartbeats=False)
    started = time.monotonic()
    try:
        for i, event in enumerate(events):
            due = started + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            published[event["subject_pin"]] = time.monotonic()
            publisher.publish(event)
            if i % 1000 == 0:
                for component in components:
                    component.check()
        report = publisher.flush(60)
        if not report.complete:
            raise SystemExit(f"publish: {len(report.pending)} pending, {len(report.failed)} failed")
    finally:
        publisher.close(10)
    return published, time.monotonic() - started


@dataclass(frozen=True)
class KafkaLatency:
    """What Kafka's EndToEndLatency printed, in ms."""

    p50: float
    p99: float
    p999: float
    average: float


def kafka_end_to_end(settings: Settings, topic: str, messages: int) -> KafkaLatency:
    """Kafka's own EndToEndLatency: produce one message, consume it, repeat (acks=all)."""
    state = StackState.load(settings.stack_dir)
    assert state and "kafka" in state.parts, "start the stack first: databus stack up"
    libs = Path(state.parts["kafka"].extra["libs"])
    command = [
        java(),
        "-Xmx256m",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.EndToEndLatency",
        settings.endpoints.bootstrap_servers,
        topic,
        str(messages),
        "all",
        "200",
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    percentiles = dict(re.findall(r"([\d.]+)th = ([\d.]+)", out))
    average = re.search(r"Avg latency: ([\d.]+) ms", out)
    nan = float("nan")
    return KafkaLatency(
        float(percentiles.get("50", nan)),
        float(percentiles.get("99", nan)),
        float(percentiles.get("99.9", nan)),
        float(average.group(1)) if average else nan,
    )


# ---------------------------------------------------------------------- main


@dataclass
class PathRun:
    """What one run of the path at one rate measured."""

    published: dict[str, float]
    """PIN -> time of its publish call (monotonic)."""
    seen: dict[str, float]
    """PIN -> when its sector row was first seen committed (monotonic)."""
    publish_seconds: float
    stages: dict[str, float]
    """Median ms from the publish call to each stage's own time stamp (wall clock)."""
    stage_delays: dict[str, dict[str, float]]
    """Stage -> PIN -> ms from the publish call to that stage's own time stamp."""
    usage: dict[str, Usage]
    """Per process (the path's components, the broker, PostgreSQL, ...), while publishing."""


@dataclass
class E2eRun(PathRun):
    """One run of the path, with Kafka's one hop measured in the same run."""

    kafka: KafkaLatency


def _prepare_databases(npd_url: str, sector_url: str) -> None:
    npd = create_engine(npd_url)
    create_population_schema(npd)
    create_outbox(npd, "npd_outbox")
    npd.dispose()
    sector = create_engine(sector_url)
    create_sector_schema(sector)
    sector.dispose()
    with psycopg.connect(psycopg_dsn(sector_url), autocommit=True) as conn:
        conn.execute(_TRIGGER)


def _usage_parts(settings: Settings, components: list[Component]) -> list[Part]:
    """The path's components, the stack's broker, registry and PostgreSQL (when this stack
    runs them: their pids are in its state file) and this process (publisher and watcher)."""
    parts = [Part(c.name, c.process.pid) for c in components]
    state = StackState.load(settings.stack_dir)
    for name in ("kafka", "registry", "postgres"):
        if state and name in state.parts and Path(f"/proc/{state.parts[name].pid}").exists():
            parts.append(Part(name, state.parts[name].pid))
    parts.append(Part("bench (publisher, watcher)", os.getpid(), tree=False))
    return parts


def run_path(
    settings: Settings,
    sector: str,
    server: str,
    rate: float,
    events: Iterable[dict[str, Any]],
    drain_seconds: float = DRAIN_SECONDS,
) -> PathRun:
    """On fresh topics and databases (named after the settings' topic prefix): start the
    path, publish `events` at `rate`/s, wait up to `drain_seconds` for the last rows; stop
    the path and drop its topics and databases."""
    run_id = settings.topic_prefix.split(".")[-2]
    names = [spec.name for spec in Topics.from_settings(settings).specs()]
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-e2e-")))
        stack.enter_context(bench_topics(settings, names))
        npd_url = stack.enter_context(fresh_database(server, f"bench_e2e_npd_{run_id}"))
        sector_url = stack.enter_context(fresh_database(server, f"bench_e2e_sector_{run_id}"))
        _prepare_databases(npd_url, sector_url)
        watcher = Watcher(psycopg_dsn(sector_url))
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        with running_path(settings, sector, npd_url, sector_url, workdir) as components:
            time.sleep(8.0)  # the faust workers join their groups
            for component in components:
                component.check()
            with UsageSampler(_usage_parts(settings, components)) as sampler:
                published, took = _publish_paced(settings, events, rate, components)
            deadline = time.monotonic() + drain_seconds
            while len(watcher.seen) < len(published) and time.monotonic() < deadline:
                time.sleep(0.2)
            watcher.stop.set()
            thread.join(10)
        if watcher.error is not None:
            raise SystemExit(f"watcher failed: {watcher.error!r}")
        delays = stage_delays(settings, sector, npd_url, sector_url, published)
    stages = {name: percentile(sorted(found.values()), 0.5) for name, found in delays.items()}
    return PathRun(published, dict(watcher.seen), took, stages, delays, sampler.result)


def measure_kafka(settings: Settings, messages: int = 5000) -> KafkaLatency:
    """Kafka's one hop on a topic of its own (created by the tool, deleted here)."""
    latency_topic = f"{settings.topic_prefix}e2e-latency"
    try:
        return kafka_end_to_end(settings, latency_topic, messages)
    finally:
        delete_topics(settings.endpoints.bootstrap_servers, [latency_topic])


def run(args: argparse.Namespace, settings: Settings, events: list[dict[str, Any]]) -> E2eRun:
    """Set up, run the path under load, measure Kafka's one hop; clean up."""
    server = server_url(args.database_url, settings)
    path = run_path(settings, args.sector, server, args.rate, events)
    kafka = measure_kafka(settings)
    return E2eRun(**vars(path), kafka=kafka)


def report(args: argparse.Namespace, measured: E2eRun) -> None:
    """Print the percentiles beside Kafka's, and write e2e.json."""
    published, seen = measured.published, measured.seen
    first = min(published.values())
    after_warmup = {pin: at for pin, at in published.items() if at - first >= args.warmup}
    latencies = sorted(delays_ms(after_warmup, seen).values())
    missing = sum(1 for pin in after_warmup if pin not in seen)
    p50, p99, p999 = (percentile(latencies, q) for q in (0.50, 0.99, 0.999))
    worst = latencies[-1] if latencies else float("nan")
    kafka = measured.kafka
    took = measured.publish_seconds
    print(f"  published {len(published):,} events in {took:.1f} s ({len(published) / took:,.0f}/s)")
    print(
        f"  publish -> sector row committed, {len(latencies):,} events after a {args.warmup:g} s"
        f" warm-up ({missing} not arrived within {DRAIN_SECONDS:.0f} s of the end):"
    )
    print(f"    p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   p99.9 {p999:7.1f} ms   max {worst:7.1f} ms")
    for stage, median in measured.stages.items():
        print(f"    median from publish to {stage}: {median:7.1f} ms")
    print(
        f"  baseline, Kafka EndToEndLatency (one produce -> consume hop, acks=all): p50 "
        f"{kafka.p50:.1f} ms, p99 {kafka.p99:.1f} ms, p99.9 {kafka.p999:.1f} ms"
    )
    if kafka.p99:
        print(f"  ratio ours / Kafka one hop at p99 = {p99 / kafka.p99:.1f}")
    print("  CPU share (1.00 = one core) and peak memory (PSS, MiB) while publishing:")
    for line in usage_table({args.rate: measured.usage}):
        print(line)
    met = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and missing == 0
    print(
        f"  target p50 <= {TARGET_P50_MS:.0f} ms and p99 <= {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met else 'NOT met'}"
    )
    command = (
        f"python -m bench.e2e --rate {args.rate:g} --seconds {args.seconds:g} "
        f"--warmup {args.warmup:g} --sector {args.sector}"
    )
    path = write_result(
        "e2e",
        "publish -> sector row committed, p99 latency (ms)",
        p99,
        kafka.p99,
        unit="ms",
        command=command,
        results_dir=args.results,
        rate=args.rate,
        seconds=args.seconds,
        events=len(latencies),
        missing=missing,
        p50_ms=round(p50, 1),
        p99_ms=round(p99, 1),
        p999_ms=round(p999, 1),
        max_ms=round(worst, 1),
        kafka_one_hop_ms={"p50": kafka.p50, "p99": kafka.p99, "p99.9": kafka.p999},
        stage_medians_ms={k: round(v, 1) for k, v in measured.stages.items()},
        timeline=timeline(published, measured.seen, measured.stage_delays),
        usage={
            name: {k: round(v, 2) for k, v in asdict(u).items()}
            for name, u in measured.usage.items()
        },
        target={"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS},
    )
    print(f"  wrote {path}")
    print(f"  command: {command}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument(
        "--rates",
        help="comma-separated rates (events/s): the saturation curve, each rate its own run"
        " (bench/e2e_curve.py); writes e2e-curve.json and the plot",
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="how long to publish")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds left out")
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="--rates: seconds after the last publish within which every row must be committed"
        " for the rate to count as kept up",
    )
    parser.add_argument("--plot", type=Path, help="--rates: the PNG to draw")
    parser.add_argument("--sector", default="social-insurance")
    parser.add_argument("--database-url", help="PostgreSQL server (default: the local stack's)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write e2e.json")
    args = parser.parse_args()
    if args.rates:
        from bench.e2e_curve import PLOT, sweep  # the curve builds on this module

        args.plot = args.plot or PLOT
        sweep(args)
        return
    settings = Settings(topic_prefix=f"bench.e2e.{uuid.uuid4().hex[:8]}.")
    count = int(args.rate * args.seconds)
    print(
        f"bench/e2e on {machine()}: {count:,} births at {args.rate:,.0f}/s for "
        f"{args.seconds:g} s into sector {args.sector}"
    )
    report(args, run(args, settings, list(births(count))))


if __name__ == "__main__":
    main()
