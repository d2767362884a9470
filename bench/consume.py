"""bench/consume: what consuming one record costs a faust worker, beside a plain consumer.

    .venv/bin/python -m bench.consume [--records N] [--size BYTES] [--batch-size B]

Needs Kafka (`databus stack up`; the endpoint from DATABUS_BOOTSTRAP_SERVERS or the stack's
state file). In one run, on one fresh topic of 4 partitions holding N records of BYTES bytes
(produced first, outside the timing):

1. baseline: a plain confluent-kafka consumer reads them all in this process (`consume` of up
   to 500 records at a time): CPU µs per record;
2. the consumption path of every worker of the bus, in a process of its own
   (`streams.faust_app.raw_faust_app`, one agent, `streams.batching.adaptive_batches` of B
   and `ack_events` after each batch, offsets committed as the workers commit them), with a
   batch handler that does nothing, twice, each with its own consumer group: with faust's own
   consumer, then with ours (`streams.faust_delivery.LeanConsumer`). For each, the CPU per
   record of the whole process, and of its event loop thread alone (the faust side: fetching,
   one event per record, the stream, the acks), from the first batch to the last.

Prints the three, the ratios and the share of one core each faust path would take at 1,000
and 5,000 records/s; writes `consume.json`. The topic is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.common import RESULTS, machine, write_result
from bench.stack import component_env, delete_topics
from databus.security.client import secured
from databus.settings import Settings

PARTITIONS = 4


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process so far, by thread name (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[task.name] = sum(int(v) for v in fields[11:13]) / tick
    return out


def _produce(bootstrap: str, topic: str, records: int, size: int) -> None:
    admin = AdminClient(secured({"bootstrap.servers": bootstrap}))
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
    producer = Producer(secured({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"}))
    value = os.urandom(size)
    for i in range(records):
        while True:
            try:
                producer.produce(topic, value, key=str(i).encode())
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)


def _plain(bootstrap: str, topic: str, records: int) -> float:
    """CPU µs per record of a plain confluent-kafka consumer reading the topic."""
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-consume-plain-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
            }
        )
    )
    consumer.subscribe([topic])
    seen = 0
    started: float | None = None
    deadline = time.monotonic() + 300
    while seen < records and time.monotonic() < deadline:
        batch = consumer.consume(500, timeout=1.0)
        if batch and started is None:
            started = time.process_time()
        seen += sum(1 for m in batch if m.error() is None)
    spent = time.process_time() - (started or time.process_time())
    consumer.close()
    if seen < records:
        raise SystemExit(f"the plain consumer read {seen} of {records} records")
    return spent / records * 1e6


def _faust_worker(
    bootstrap: str, topic: str, records: int, batch_size: int, out: Path, lean: bool
) -> None:
    """The child process: consume `records` through the workers' path, write the CPU spent to
    `out` (faust takes over standard output)."""
    from databus.runtime import tune_gc
    from streams.batching import ack_events, adaptive_batches
    from streams.faust_app import raw_faust_app

    app = raw_faust_app(
        f"bench-consume-{uuid.uuid4().hex[:8]}", bootstrap, batch_size=batch_size, lean=lean
    )
    channel = app.topic(topic, value_serializer="raw", key_serializer="raw")
    loop_thread = str(threading.get_native_id())
    state: dict[str, Any] = {"seen": 0, "first": None}

    @app.agent(channel, name="bench-consume")
    async def agent(stream: Any) -> None:
        async for events in adaptive_batches(stream, batch_size):
            if state["first"] is None:
                state["first"] = (_thread_cpu(), len(events))
            state["seen"] += len(events)
            await ack_events(stream, events)
            if state["seen"] >= records:
                first, counted = state["first"]
                last = _thread_cpu()
                n = state["seen"] - counted
                out.write_text(
                    json.dumps(
                        {
                            "records": n,
                            "process_us": (sum(last.values()) - sum(first.values())) / n * 1e6,
                            "loop_us": (last[loop_thread] - first.get(loop_thread, 0.0)) / n * 1e6,
                        }
                    )
                )
                os._exit(0)

    import faust

    tune_gc()
    faust.Worker(app, loglevel="warn", quiet=True).execute_from_commandline()


def _run_faust(
    settings: Settings, args: argparse.Namespace, topic: str, out: Path, consumer: str
) -> tuple[float, float]:
    """(process, event loop) CPU µs per record of a faust worker process with `consumer`
    (`stock`: faust's own; `lean`: ours), each with its own consumer group."""
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.consume",
            "--bootstrap",
            settings.endpoints.bootstrap_servers,
            "--batch-size",
            str(args.batch_size),
            "--faust-worker",
            topic,
            str(args.records),
            str(out),
            consumer,
        ],
        env=component_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if not out.exists():
        raise SystemExit(f"the faust worker wrote no result:\n{child.stderr[-2000:]}")
    found = json.loads(out.read_text())
    return float(found["process_us"]), float(found["loop_us"])


def main() -> None:
    args = _arguments()
    if args.faust_worker:
        topic, records, out, consumer = args.faust_worker
        _faust_worker(
            args.bootstrap, topic, int(records), args.batch_size, Path(out), consumer == "lean"
        )
        return
    settings = Settings()
    bootstrap = settings.endpoints.bootstrap_servers
    topic = f"bench.consume.{uuid.uuid4().hex[:8]}"
    print(f"bench/consume on {machine()}, {args.records:,} records of {args.size} bytes")
    work = Path(tempfile.mkdtemp(prefix="bench-consume-"))
    try:
        _produce(bootstrap, topic, args.records, args.size)
        plain = _plain(bootstrap, topic, args.records)
        faust_us = {
            consumer: _run_faust(settings, args, topic, work / f"{consumer}.json", consumer)
            for consumer in ("stock", "lean")
        }
    finally:
        delete_topics(bootstrap, [topic])
        shutil.rmtree(work, ignore_errors=True)
    print(f"  {plain:8.1f} µs/record  baseline: plain confluent-kafka consumer")
    for consumer, what in (
        ("stock", "faust's own consumer"),
        ("lean", "ours: streams.faust_delivery.LeanConsumer"),
    ):
        process_us, loop_us = faust_us[consumer]
        print(
            f"  {process_us:8.1f} µs/record  {what}, whole process ({loop_us:.1f} in its "
            f"event loop; {process_us * 1_000 / 1e6:.2f} core at 1,000 records/s, "
            f"{process_us * 5_000 / 1e6:.2f} at 5,000)"
        )
    lean_us, stock_us = faust_us["lean"][0], faust_us["stock"][0]
    print(f"  ratio lean / faust's own = {lean_us / stock_us:.2f}")
    print(f"  ratio lean / plain = {lean_us / plain:.0f}")
    command = (
        f"python -m bench.consume --records {args.records} --size {args.size} "
        f"--batch-size {args.batch_size}"
    )
    path = write_result(
        "consume",
        "CPU µs per record consumed (the workers' faust path vs plain confluent-kafka)",
        lean_us,
        plain,
        unit="µs/record",
        command=command,
        results_dir=args.results,
        lean_loop_us=round(faust_us["lean"][1], 1),
        stock_us=round(stock_us, 1),
        stock_loop_us=round(faust_us["stock"][1], 1),
        records=args.records,
        size=args.size,
    )
    print(f"  wrote {path}")
    print(f"  command: {command}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.consume", description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--bootstrap", default="")
    parser.add_argument("--faust-worker", nargs=4, metavar=("TOPIC", "RECORDS", "OUT", "CONSUMER"))
    return parser.parse_args()


if __name__ == "__main__":
    main()
