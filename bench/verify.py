"""bench/verify: verifications/s end to end (request produced -> result consumed) with N
citizens in PostgreSQL, beside raw batched SQL (`= ANY` of the same PINs, psycopg), and the
verifier's memory.

    .venv/bin/python -m bench.verify [--citizens N] [--requests R] [--batch-size B]
                                     [--database-url URL] [--results DIR]

Needs Kafka, the registry and PostgreSQL (`databus stack up --all`). In one run:

1. a fresh population database gets N citizens (a generated pool repeated under new PINs,
   `bench/citizens.py`) by COPY; not measured;
2. ours: `databus run verifier` (a process, sector `mobile-subscribers` whose rate limit is
   lifted for the run) is started and ready; R requests for random citizens (every claim field:
   names, date of birth, sex, card number; one in five without diacritics) are produced with the
   SDK (`VerificationClient`) while a consumer reads the results; the rate is R over the seconds
   from the first request produced to the last result consumed. The verifier's peak resident
   memory (VmHWM) is read from /proc at the end;
3. baseline: the same PINs looked up with psycopg, `SELECT ... WHERE pin = ANY(%s)` in batches of
   B (the verifier's batch size), selecting the same fields; the fastest of three runs.

Writes `verify.json`. Databases and topics are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml
from confluent_kafka import Consumer
from sqlalchemy import create_engine

from bench.citizens import citizen_pool, replica_pins
from bench.common import RESULTS, machine, write_result
from bench.stack import (
    PROJECT_ROOT,
    bench_topics,
    component_env,
    fresh_database,
    psycopg_dsn,
    server_url,
)
from databus.population.schema import create_population_schema
from databus.security.client import secured
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from producers.verification import VerificationClient
from streams.verification.matching import strip_diacritics

SECTOR = "mobile-subscribers"
TARGET = 10_000.0
POOL = 20_000
SEED = 2031
REPEATS = 3
BASELINE_SQL = (
    "SELECT pin, version, deceased, record->>'family_name', record->>'middle_name', "
    "record->>'given_name', record->>'date_of_birth', record->>'sex', "
    "record#>>'{identity_card,number}' FROM citizens WHERE pin = ANY(%s)"
)


def _fill(url: str, pool: list[dict[str, Any]], count: int) -> list[tuple[int, str]]:
    """COPY `count` citizens into `citizens`; (pool index, PIN) of each."""
    engine = create_engine(url)
    create_population_schema(engine)
    engine.dispose()
    texts = [json.dumps(r, ensure_ascii=False) for r in pool]
    pins = [str(r["pin"]) for r in pool]
    now = datetime.now(UTC)
    made = list(replica_pins(pins, count))
    with psycopg.connect(psycopg_dsn(url)) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY citizens (pin, version, record, field_times, deceased, updated_at) FROM STDIN"
            ) as copy,
        ):
            for base, pin in made:
                copy.write_row((pin, 1, texts[base].replace(pins[base], pin), "{}", False, now))
        conn.commit()
        conn.execute("ANALYZE citizens")
        conn.commit()
    return made


def _claims(record: dict[str, Any], pin: str, bare: bool, i: int) -> dict[str, str]:
    names = {n: record[n] for n in ("family_name", "middle_name", "given_name") if record.get(n)}
    if bare:
        names = {n: strip_diacritics(v) for n, v in names.items()}
    claims = {
        "record_id": f"bench-{i}",
        "pin": pin,
        **names,
        "date_of_birth": record["date_of_birth"],
        "sex": record["sex"],
    }
    if record.get("identity_card"):
        claims["identity_card_number"] = pin
    return claims


def _consume(
    settings: Settings, topic: str, expected: int, done: dict[str, float], ready: threading.Event
) -> None:
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": settings.endpoints.bootstrap_servers,
                "group.id": f"bench-verify-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    consumer.subscribe([topic], on_assign=lambda *_: ready.set())
    seen = 0
    deadline = time.monotonic() + 1800
    try:
        while seen < expected and time.monotonic() < deadline:
            batch = consumer.consume(10_000, 0.5)
            if batch and "first" not in done:
                done["first"] = time.monotonic()
            seen += sum(1 for m in batch if m.error() is None)
        done["last"] = time.monotonic()
        done["seen"] = seen
    finally:
        consumer.close()


def _baseline(url: str, pins: list[str], batch: int) -> list[float]:
    runs = []
    with psycopg.connect(psycopg_dsn(url)) as conn:
        conn.execute(BASELINE_SQL, (pins[:batch],)).fetchall()  # warm the plan
        for _ in range(REPEATS):
            started = time.perf_counter()
            found = wanted = 0
            for at in range(0, len(pins), batch):
                chunk = pins[at : at + batch]
                found += len(conn.execute(BASELINE_SQL, (chunk,)).fetchall())
                wanted += len(set(chunk))
            runs.append(time.perf_counter() - started)
            assert found == wanted
    return runs


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _bench_settings(run_id: str, workdir: Path) -> Settings:
    """Settings of the run: own topic prefix, the topology without the sector's rate limit."""
    topology_file = workdir / "topology.yaml"
    source = yaml.safe_load((PROJECT_ROOT / "deploy" / "topology.yaml").read_text("utf-8"))
    source["sectors"][SECTOR]["verification"].pop("rate_per_second", None)  # measure, not pace
    topology_file.write_text(yaml.safe_dump(source, allow_unicode=True, sort_keys=False))
    return Settings(topic_prefix=f"bench.verify.{run_id}.", topology=topology_file)


def _start_verifier(
    settings: Settings, url: str, run_id: str, batch: int, log: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "cli", "run", "verifier", "--database-url", url),
            *("--sector", SECTOR, "--group", f"bench-verify-{run_id}"),
            *("--batch-size", str(batch), "--log-level", "info"),
        ],
        cwd=PROJECT_ROOT,
        env=component_env(settings),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _end_to_end(
    settings: Settings, topics: Topics, requests: list[dict[str, str]], campaign: str
) -> tuple[float, float]:
    """(seconds from the first request produced to the last result consumed, seconds to
    produce every request)."""
    done: dict[str, float] = {}
    ready = threading.Event()
    topic = topics.verification_results_topic(SECTOR)
    reader = threading.Thread(target=_consume, args=(settings, topic, len(requests), done, ready))
    reader.start()
    ready.wait(30)
    client = VerificationClient(SECTOR, settings=settings, campaign=campaign)
    started = time.monotonic()
    for claims in requests:
        client.submit(claims)
    client.flush(300)
    produced = time.monotonic() - started
    reader.join()
    if done.get("seen") != len(requests):
        raise SystemExit(f"only {done.get('seen')} of {len(requests)} results arrived")
    return done["last"] - started, produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--verifiers", type=int, default=1, help="verifier processes in the group (max 3)"
    )
    parser.add_argument("--database-url", help="PostgreSQL server (default: the local stack's)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    settings = _bench_settings(run_id, workdir)
    server = server_url(args.database_url, settings)
    topology = load_topology(settings.topology)
    topics = Topics.from_settings(settings, topology)
    names = [
        topics.verification_requests_topic(SECTOR),
        topics.verification_results_topic(SECTOR),
        topics.data_usage,
        topics.dead_letter,
    ]
    print(f"bench/verify: {args.citizens:,} citizens, {args.requests:,} requests; {machine()}")
    with bench_topics(settings, names), fresh_database(server, f"bench_verify_{run_id}") as url:
        started = time.perf_counter()
        pool = citizen_pool(POOL, workdir, topology, SEED)
        made = _fill(url, pool, args.citizens)
        print(f"  population: {args.citizens:,} citizens in {time.perf_counter() - started:.1f} s")
        rng = random.Random(SEED)
        picks = [made[rng.randrange(len(made))] for _ in range(args.requests)]
        requests = [
            _claims(pool[base], pin, rng.random() < 0.2, i) for i, (base, pin) in enumerate(picks)
        ]
        logs = [workdir / f"verifier-{n}.log" for n in range(args.verifiers)]
        verifiers = [_start_verifier(settings, url, run_id, args.batch_size, log) for log in logs]
        try:
            for log, verifier in zip(logs, verifiers, strict=True):
                _wait_ready(log, verifier)
            time.sleep(3 * (args.verifiers - 1))  # the group settles on its final assignment
            elapsed, produced = _end_to_end(settings, topics, requests, run_id)
            rss = sum(_peak_rss_mib(v.pid) for v in verifiers)
        finally:
            for verifier in verifiers:
                verifier.terminate()
            for verifier in verifiers:
                verifier.wait(60)
        runs = _baseline(url, [pin for _, pin in picks], args.batch_size)
    ours = args.requests / elapsed
    baseline = args.requests / min(runs)
    print(
        f"  ours: {ours:,.0f} verifications/s end to end ({args.requests:,} in {elapsed:.1f} s; "
        f"requests produced in {produced:.1f} s; {args.verifiers} verifier process(es)); "
        f"verifier peak memory {rss:,.0f} MiB"
    )
    print(f"  baseline: batched SQL = ANY ({args.batch_size} a query): {baseline:,.0f} lookups/s")
    verdict = "met" if ours >= TARGET else "NOT met"
    print(f"  ratio {ours / baseline:.3f}; target {TARGET:,.0f}/s: {verdict}")
    path = write_result(
        "verify",
        "verifications/s end to end (request produced -> result consumed)",
        ours,
        baseline,
        unit="verifications/s",
        command=(
            f"python -m bench.verify --citizens {args.citizens} --requests {args.requests} "
            f"--batch-size {args.batch_size} --verifiers {args.verifiers}"
        ),
        results_dir=args.results,
        citizens=args.citizens,
        requests=args.requests,
        batch_size=args.batch_size,
        verifiers=args.verifiers,
        seconds=round(elapsed, 2),
        produce_seconds=round(produced, 2),
        target=TARGET,
        baseline_is="psycopg SELECT of the same fields WHERE pin = ANY(batch), same PINs",
        baseline_runs=[round(r, 3) for r in runs],
        verifier_peak_rss_mib=round(rss, 1),
        verifier_peak_rss_is="sum of VmHWM over the verifier processes",
    )
    print(f"  wrote {path}")


def _wait_ready(log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if "Worker]: Ready" in log.read_text(errors="replace"):
            time.sleep(2)  # partitions assigned, fetching
            return
        if process.poll() is not None:
            raise SystemExit(f"the verifier exited: see {log}")
        time.sleep(0.5)
    raise SystemExit(f"the verifier did not start: see {log}")


if __name__ == "__main__":
    main()
