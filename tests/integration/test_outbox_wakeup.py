"""The outbox relay wakes when the population sync commits (PostgreSQL LISTEN/NOTIFY).

The relay's idle sleep is 5 s here, so only the commit's notification can explain a row that
reaches Kafka well within a second of the commit.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import create_engine

from databus.outbox import create_outbox
from databus.population.schema import create_population_schema
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from producers.outbox import OutboxRelay
from streams.population.apply import Incoming, PopulationApplier
from streams.population.outbox import NPD_OUTBOX, PopulationOutbox
from tests.integration.test_outbox import birth_event

IDLE_SLEEP = 5.0
WOKEN_WITHIN = 1.0
"""Far below the idle sleep; on a quiet machine it takes a few milliseconds."""


def _consumer(bootstrap: str, topic: str) -> Consumer:
    """Reads `topic` from its current end."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    assignment = []
    for p in partitions:
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        assignment.append(TopicPartition(topic, p, high))
    consumer.assign(assignment)
    consumer.poll(0.1)
    return consumer


def _arrival(consumer: Consumer, timeout: float) -> float | None:
    """When the next message arrived (monotonic), or None within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = consumer.poll(0.005)
        if msg is not None:
            assert not msg.error(), str(msg.error())
            return time.monotonic()
    return None


def test_a_population_commit_wakes_the_idle_relay_at_once(bus_ready: Settings, pg_url: str) -> None:
    topology = load_topology(bus_ready.topology)
    topics = Topics.from_settings(bus_ready, topology)
    endpoints = bus_ready.endpoints
    engine = create_engine(pg_url)
    create_population_schema(engine)
    create_outbox(engine, NPD_OUTBOX)
    applier = PopulationApplier(topology, PopulationOutbox(topics, NPD_OUTBOX))
    relay = OutboxRelay(
        engine,
        endpoints.bootstrap_servers,
        endpoints.registry_url,
        table=NPD_OUTBOX,
        idle_sleep=IDLE_SLEEP,
    )
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    consumer = _consumer(endpoints.bootstrap_servers, topics.population_changes)
    thread.start()
    latencies: list[float] = []
    try:
        assert relay.leased.wait(30)
        for serial in range(3):
            time.sleep(0.5)  # the relay found the outbox empty and sleeps
            with engine.begin() as conn:
                outcomes: Any = applier.apply_batch(conn, [Incoming(birth_event(serial))])
            committed = time.monotonic()
            assert [o.status for o in outcomes] == ["applied"]
            arrived = _arrival(consumer, IDLE_SLEEP * 2)
            assert arrived is not None, "the change never reached Kafka"
            latencies.append(arrived - committed)
        print(f"commit -> Kafka: {', '.join(f'{s * 1000:.1f} ms' for s in latencies)}")
        assert max(latencies) < WOKEN_WITHIN, latencies
    finally:
        stop.set()
        thread.join(30)
        consumer.close()
        engine.dispose()
