"""bench/publish: our SDK beside Kafka's own ProducerPerformance, same broker, one run.

    .venv/bin/python -m bench.publish [--events N]

Both sides: the same broker (the local stack's), a fresh topic of 3 partitions each, acks=all,
idempotence on, lz4, linger.ms=10, batch.size=512 KiB, and the same record size (the mean Avro
size of our events, measured first). Ours is the full path: validate (contracts + topology
grants) + encode through the registry + produce + delivery futures. Prints both rates and the
ratio; writes bench/results/publish.json.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.common import RESULTS, machine, write_result
from bench.sample_events import sample_events
from databus.contracts import bindings
from databus.kafka_admin import apply_topics
from databus.schema_admin import RegistryAdmin, register_all
from databus.security.client import secured
from databus.settings import Settings
from databus.stack.artifacts import java
from databus.stack.state import StackState
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.avro_files import AVRO_DIR
from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data

SOURCE = "civil-status"
PERF_PROPS = [
    "acks=all",
    "enable.idempotence=true",
    "compression.type=lz4",
    "linger.ms=10",
    "batch.size=524288",
    "max.in.flight.requests.per.connection=5",
]


def _events(count: int) -> list[dict[str, object]]:
    """Civil status events only (births and deaths), as one ministry would send them."""
    mix = [
        e
        for e in sample_events(count * 3)
        if e["event_type"] in ("BirthRegistered", "DeathRegistered")
    ]
    return mix[:count]


def producer_performance(
    libs: Path, bootstrap: str, topic: str, records: int, record_size: int
) -> float:
    """Records/s reported by org.apache.kafka.tools.ProducerPerformance."""
    command = [
        java(),
        "-Xmx512m",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        *PERF_PROPS,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    final = [line for line in out.splitlines() if "records sent" in line][-1]
    match = re.search(r"([\d.]+) records/sec", final)
    assert match, final
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--stack-dir", type=Path, default=Path(".stack"))
    args = parser.parse_args()
    state = StackState.load(args.stack_dir)
    assert state and "kafka" in state.parts, "start the stack first: databus stack up"
    libs = Path(state.parts["kafka"].extra["libs"])
    run = f"bench{int(time.time())}."
    settings = Settings(topic_prefix=run, stack_dir=args.stack_dir)
    topics = Topics.from_settings(settings)
    endpoints = settings.endpoints
    apply_topics(endpoints.bootstrap_servers, topics.specs())
    register_all(RegistryAdmin(endpoints.registry_url), bindings(topics), AVRO_DIR)
    data = _events(args.events)

    publisher = Publisher(SOURCE, settings=settings, heartbeats=False)
    domain = EVENT_DOMAINS["civil-status"]
    sizes = [len(publisher._encoder.encode(event_from_data(domain, d))) for d in data[:2000]]
    record_size = round(sum(sizes) / len(sizes))

    perf_topic = f"{run}perf"
    admin = AdminClient(secured({"bootstrap.servers": endpoints.bootstrap_servers}))
    for future in admin.create_topics([NewTopic(perf_topic, 3, 1)]).values():
        future.result()
    baseline = producer_performance(
        libs, endpoints.bootstrap_servers, perf_topic, len(data), record_size
    )

    started = time.perf_counter()
    for event in data:
        publisher.publish(event)
    report = publisher.flush(300)
    ours = len(data) / (time.perf_counter() - started)
    publisher.close()
    assert report.complete and report.delivered == len(data), report

    print(
        f"bench/publish on {machine()}: {len(data)} events, {record_size} bytes each on "
        f"average, acks=all, idempotent, lz4, 3 partitions"
    )
    print(f"  {baseline:>10,.0f} records/s  Kafka ProducerPerformance (Java, no validation)")
    print(f"  {ours:>10,.0f} events/s   ours: validate + encode + produce + delivery futures")
    print(
        f"  ratio ours / ProducerPerformance = {ours / baseline:.2f} (target >= 0.4); "
        f"target >= 40,000 events/s: {'met' if ours >= 40_000 else 'NOT met'}"
    )
    path = write_result(
        "publish",
        "events/s through the SDK (validate+encode+produce)",
        ours,
        baseline,
        unit="events/s",
        command="python -m bench.publish",
        results_dir=args.results,
        events=len(data),
        record_size=record_size,
        target_ratio=0.4,
        target_rate=40_000,
    )
    print(f"  wrote {path}")


if __name__ == "__main__":
    main()
