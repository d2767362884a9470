"""bench/outbox: outbox relay throughput from PostgreSQL, beside its two halves measured alone.

    .venv/bin/python -m bench.outbox [--rows N] [--database-url URL] [--results DIR]

Needs Kafka, the registry and PostgreSQL (`databus stack up --all`; endpoints from
DATABUS_BOOTSTRAP_SERVERS / DATABUS_REGISTRY_URL or the stack's state file; the database from
`--database-url` or the stack's state). Enqueues N mixed events (commits of 10,000) into a fresh
outbox table, then in the same run measures:

- baseline: the raw PostgreSQL read rate of the same rows (`SELECT id, topic, msg_key, body ...
  ORDER BY id` through a server-side cursor), the relay's floor on the database side;
- the plain confluent-kafka produce rate of the same values, keys and headers (same producer
  configuration, no database), its floor on the Kafka side;
- ours: the relay draining the outbox (read, produce, await every acknowledgement, mark).

Not pinned to one core: librdkafka works in its own threads, as in production. The table and
topics are removed at the end.
"""

from __future__ import annotations

import argparse
import gc
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from sqlalchemy import Engine, create_engine, text

from bench.common import RESULTS, machine, write_result
from bench.sample_events import sample_events
from bench.stack import delete_topics, server_url
from databus.kafka_config import producer_config
from databus.registry import registry_client
from databus.security.client import secured
from databus.settings import Settings
from producers.outbox import OutboxRelay, create_outbox, drop_outbox, enqueue_many
from producers.outbox.schema_ids import SchemaHeaders
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.models.base import Contract
from schemas.models.envelope import Event

TARGET = 20_000
COMMIT_EVERY = 10_000
PARTITIONS = 6
TOPIC_OF_DOMAIN = {
    "civil-status": "civilstatus.events.v1",
    "residence": "residence.events.v1",
    "identity": "identity.events.v1",
    "reference": "reference.events.v1",
}


def _domain(event_type: str) -> EventDomain:
    return next(d for d in EVENT_DOMAINS.values() if EVENT_CLASSES[event_type] in d.events)


def _pin(record: Contract) -> str:
    assert isinstance(record, Event) and record.subject_pin is not None
    return str(record.subject_pin)


def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AdminClient(secured({"bootstrap.servers": bootstrap}))
    for future in admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names]).values():
        future.result(timeout=30)


def _warm_up(bootstrap: str, names: list[str]) -> None:
    """One message per partition of each new topic, so no rate includes leader elections."""
    producer = Producer(producer_config(bootstrap, "bench-outbox-warm-up"))
    for name in names:
        for partition in range(PARTITIONS):
            producer.produce(name, b"warm-up", partition=partition)
    if producer.flush(60):
        raise SystemExit("warm-up messages were not delivered")


def _enqueue(engine: Engine, table: str, events: list[tuple[str, Event]]) -> float:
    """Enqueue (topic, event) pairs in commits of COMMIT_EVERY; rows/s."""
    start = time.perf_counter()
    for first in range(0, len(events), COMMIT_EVERY):
        by_topic: dict[str, list[Contract]] = defaultdict(list)
        for topic, event in events[first : first + COMMIT_EVERY]:
            by_topic[topic].append(event)
        with engine.begin() as conn:
            for topic, records in by_topic.items():
                enqueue_many(conn, topic, records, _pin, table=table)
    return len(events) / (time.perf_counter() - start)


def _read_rate(engine: Engine, table: str) -> tuple[float, int]:
    """Stream every row through a server-side cursor; (rows/s, body bytes)."""
    gc.collect()
    start = time.perf_counter()
    rows = size = 0
    with engine.connect() as conn:
        result: Any = conn.execution_options(stream_results=True, yield_per=10_000).execute(
            text(f"SELECT id, topic, msg_key, body FROM {table} ORDER BY id")
        )
        for _id, _topic, _key, body in result:
            rows += 1
            size += len(body)
    return rows / (time.perf_counter() - start), size


def _plain_produce_rate(
    engine: Engine, table: str, bootstrap: str, registry_url: str, plain: dict[str, str]
) -> float:
    """Produce the same values, keys and headers without any database; rows/s to last ack."""
    headers = SchemaHeaders(registry_client(registry_url))
    with engine.connect() as conn:
        rows: list[Any] = list(
            conn.execute(
                text(
                    "SELECT id, topic, msg_key, event_id, event_type, schema_fingerprint, body "
                    f"FROM {table} ORDER BY id"
                )
            )
        )
    messages: list[tuple[str, bytes, str, list[tuple[str, Any]]]] = [
        (
            plain[topic],
            headers.header(plain[topic], fingerprint) + body,
            key,
            [("event_id", event_id), ("event_type", event_type), ("outbox_id", str(oid))],
        )
        for oid, topic, key, event_id, event_type, fingerprint, body in rows
    ]
    producer = Producer(producer_config(bootstrap, "bench-outbox-plain"))
    failed = 0

    def report(err: Any, _msg: Any) -> None:
        nonlocal failed
        if err is not None:
            failed += 1

    gc.collect()
    start = time.perf_counter()
    for topic, value, key, message_headers in messages:
        while True:
            try:
                producer.produce(topic, value, key, headers=message_headers, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.01)
    left = producer.flush(120)
    elapsed = time.perf_counter() - start
    if failed or left:
        raise SystemExit(f"plain produce: {failed} failed, {left} unconfirmed")
    return len(messages) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000, help="relay rows per batch")
    parser.add_argument("--database-url", help="PostgreSQL (default: the local stack's)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write outbox.json")
    args = parser.parse_args()
    settings = Settings()
    endpoints = settings.endpoints
    engine = create_engine(server_url(args.database_url, settings))
    run_id = uuid.uuid4().hex[:8]
    table = f"bench_outbox_{run_id}"
    relay_topics = {d: f"bench.outbox.{run_id}.{t}" for d, t in TOPIC_OF_DOMAIN.items()}
    plain_topics = {
        v: f"bench.plain.{run_id}.{TOPIC_OF_DOMAIN[d]}" for d, v in relay_topics.items()
    }
    all_topics = [*relay_topics.values(), *plain_topics.values()]

    print(f"bench/outbox on {machine()}, {args.rows:,} rows, preparing events ...")
    events: list[tuple[str, Event]] = []
    for data in sample_events(args.rows):
        domain = _domain(data["event_type"])
        events.append((relay_topics[domain.name], event_from_data(domain, data)))
    create_outbox(engine, table)
    try:
        _create_topics(endpoints.bootstrap_servers, all_topics)
        _warm_up(endpoints.bootstrap_servers, all_topics)
        enqueue = _enqueue(engine, table, events)
        read, size = _read_rate(engine, table)
        produce = _plain_produce_rate(
            engine, table, endpoints.bootstrap_servers, endpoints.registry_url, plain_topics
        )
        relay = OutboxRelay(
            engine,
            endpoints.bootstrap_servers,
            endpoints.registry_url,
            table=table,
            batch_size=args.batch_size,
            client_id="bench-outbox-relay",
        )
        gc.collect()
        stats = relay.run(drain_once=True)
        if stats.published != args.rows or not stats.drained:
            raise SystemExit(f"relay published {stats.published} of {args.rows} rows")
        ours = stats.rows_per_second
    finally:
        drop_outbox(engine, table)
        delete_topics(endpoints.bootstrap_servers, all_topics)
        engine.dispose()

    mean_body = size / args.rows
    print(
        f"  {args.rows:,} mixed events on {len(TOPIC_OF_DOMAIN)} topics x {PARTITIONS} partitions, "
        f"mean Avro body {mean_body:.0f} B, relay batch {args.batch_size}"
    )
    rows = [
        (f"enqueue (encode + INSERT, commits of {COMMIT_EVERY:,})", enqueue),
        ("baseline: raw PostgreSQL read (server-side cursor, ORDER BY id)", read),
        ("baseline: plain confluent-kafka produce of the same values (no database)", produce),
        ("ours: relay drain (read, produce, await acks, mark published)", ours),
    ]
    for label, rate in rows:
        print(f"  {rate:>10,.0f} rows/s  {label}")
    print(f"  ratio relay / PostgreSQL read = {ours / read:.2f}")
    print(f"  ratio relay / plain produce = {ours / produce:.2f}")
    print(f"  target relay >= {TARGET:,} rows/s: {'met' if ours >= TARGET else 'NOT met'}")
    path = write_result(
        "outbox",
        "outbox relay rows/s from PostgreSQL (read, produce, acks, mark)",
        ours,
        read,
        unit="rows/s",
        command=f"python -m bench.outbox --rows {args.rows}",
        results_dir=args.results,
        baseline_is="raw PostgreSQL read of the same rows (server-side cursor)",
        rows=args.rows,
        batch_size=args.batch_size,
        mean_body_bytes=round(mean_body, 1),
        plain_produce=round(produce, 1),
        ratio_to_plain_produce=round(ours / produce, 3),
        enqueue=round(enqueue, 1),
        target=TARGET,
    )
    print(f"  wrote {path}")


if __name__ == "__main__":
    main()
