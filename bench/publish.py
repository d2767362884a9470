"""bench/publish: our SDK beside Kafka's own ProducerPerformance, same broker, one run.

    .venv/bin/python -m bench.publish [--events N] [--secure [--secure-stack-dir DIR]]

Both sides: the same broker (the local stack's), a fresh topic of 3 partitions each, acks=all,
idempotence on, lz4, linger.ms=10, batch.size=512 KiB, and the same record size (the mean Avro
size of our events, measured first). Ours is the full path: validate (contracts + topology
grants) + encode through the registry + produce + delivery futures. Prints both rates and the
ratio; writes bench/results/publish.json.

With `--secure` (the secure stack up: `databus stack up --secure`), the same events then go
through the SDK on the plain stack and on the secure stack, as the ministry's own principal
(TLS + SASL/SCRAM-SHA-512 + ACLs) and signed, in alternating rounds (best of each): the secure
rate beside the plain one, their ratio (the cost of TLS + SASL + signing), and the signing and
verifying cost per event measured alone; writes bench/results/publish-secure.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.common import RESULTS, machine, write_result
from bench.sample_events import sample_events
from bench.secure import DEFAULT_DIR, secure_bench, signing_cost
from databus.contracts import bindings
from databus.kafka_admin import apply_topics
from databus.schema_admin import RegistryAdmin, register_all
from databus.security.client import secured
from databus.security.principals import agency_principal
from databus.settings import Settings
from databus.stack.artifacts import java
from databus.stack.state import StackState
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.avro_files import AVRO_DIR
from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data

SOURCE = "civil-status"
SDK_OVERRIDES = {"linger.ms": 10}
"""The SDK's producer as ProducerPerformance's below (its own default linger is 5 ms); the
rest (acks=all, idempotence, lz4, 512 KiB batches, 5 in flight) is the SDK's default."""
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


ROUNDS = 3
"""Plain and secure runs alternate this many times; the best of each counts (the machine may
be shared: alternating exposes both sides to the same load)."""


def _timed(publisher: Publisher, data: list[dict[str, object]]) -> float:
    """Events/s of publishing `data` until every delivery is acknowledged."""
    started = time.perf_counter()
    for event in data:
        publisher.publish(event)
    report = publisher.flush(300)
    rate = len(data) / (time.perf_counter() - started)
    assert report.complete and not report.failed, report
    return rate


def secure_publish(
    stack_dir: Path, data: list[dict[str, object]], run: str, plain: Settings
) -> tuple[float, float, float, float]:
    """(best plain events/s, best secure events/s: the SDK on the secure stack as the
    ministry, signing; in ROUNDS alternating runs; then the signing and verifying microseconds
    per event, each measured alone)."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp,
        secure_bench(stack_dir, f"{run}secure.", Path(tmp)) as secure,
    ):
        signer = secure.signer(SOURCE)
        with secure.acting_as(agency_principal(secure.topology.source(SOURCE).agency)):
            signed = Publisher(
                SOURCE,
                settings=secure.settings,
                heartbeats=False,
                signer=signer,
                producer_overrides=SDK_OVERRIDES,
            )
        unsigned = Publisher(
            SOURCE, settings=plain, heartbeats=False, producer_overrides=SDK_OVERRIDES
        )
        plain_rates, secure_rates = [], []
        for _ in range(ROUNDS):
            plain_rates.append(_timed(unsigned, data))
            secure_rates.append(_timed(signed, data))
        unsigned.close()
        signed.close()
        domain = EVENT_DOMAINS[SOURCE]
        records = []
        for item in data[:20_000]:
            model = event_from_data(domain, item)
            value = signed._encoder.encode(model)
            key = model.subject_pin.encode()
            records.append((signed.topic, key, value, str(model.event_id)))
        sign_us, verify_us = signing_cost(records, signer)
    return max(plain_rates), max(secure_rates), sign_us, verify_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--stack-dir", type=Path, default=Path(".stack"))
    parser.add_argument(
        "--secure", action="store_true", help="also publish on the secure stack, signed"
    )
    parser.add_argument("--secure-stack-dir", type=Path, default=DEFAULT_DIR)
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

    publisher = Publisher(
        SOURCE, settings=settings, heartbeats=False, producer_overrides=SDK_OVERRIDES
    )
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
    if args.secure:
        _report_secure(args, data, run)


def _report_secure(args: argparse.Namespace, data: list[dict[str, object]], run: str) -> None:
    load = os.getloadavg()[0]
    plain = Settings(topic_prefix=run, stack_dir=args.stack_dir)
    ours, secure, sign_us, verify_us = secure_publish(args.secure_stack_dir, data, run, plain)
    print(
        f"  secure beside plain, {ROUNDS} alternating rounds of {len(data):,} events, best of "
        f"each (load average {load:.1f} -> {os.getloadavg()[0]:.1f}):"
    )
    print(f"  {ours:>10,.0f} events/s   ours on the plain stack")
    print(
        f"  {secure:>10,.0f} events/s   ours on the secure stack: TLS + SASL/SCRAM-SHA-512 + "
        "ACLs, as the ministry's own principal, every event signed (Ed25519)"
    )
    print(f"  ratio secure / plain = {secure / ours:.2f} (the cost of TLS + SASL + signing)")
    print(
        f"  signing {sign_us:.1f} us/event, verifying {verify_us:.1f} us/event "
        "(Ed25519 over topic, key, value and event id; each measured alone)"
    )
    command = f"python -m bench.publish --events {len(data)} --secure"
    path = write_result(
        "publish-secure",
        "events/s through the SDK on the secure stack (TLS+SASL+ACLs, signed) beside plain",
        secure,
        ours,
        unit="events/s",
        command=command,
        results_dir=args.results,
        events=len(data),
        rounds=ROUNDS,
        baseline_what="the same SDK on the plain stack, same events, alternating rounds",
        sign_us_per_event=round(sign_us, 1),
        verify_us_per_event=round(verify_us, 1),
        load_average=[round(load, 1), round(os.getloadavg()[0], 1)],
    )
    print(f"  wrote {path}")
    print(f"  command: {command}")


if __name__ == "__main__":
    main()
