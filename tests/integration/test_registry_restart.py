"""The registry keeps its schemas and rules across a restart (durable SQL storage): records
produced before it decode after it, with a registry client that has cached nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from databus.registry import registry_client, value_subject
from databus.serde import Decoder, Encoder, framing
from databus.settings import Settings
from databus.stack.launcher import Stack
from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data
from tests.conftest import LocalStack
from tests.contract_cases import valid_birth

CIVIL = EVENT_DOMAINS["civil-status"]
RECORDS = 20


def _produce(local_stack: LocalStack, topic: str, events: list[Any]) -> list[bytes]:
    encoder = Encoder(
        registry_client(local_stack.registry_url), topic, "CivilStatusEvent", auto_register=True
    )
    values = [encoder.encode(event) for event in events]
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(30) == 0
    return values


def _consume(local_stack: LocalStack, topic: str) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": local_stack.bootstrap,
            "group.id": f"{topic}-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(values) < RECORDS and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                value = message.value()
                assert value is not None
                values.append(value)
    finally:
        consumer.close()
    return values


def test_old_records_decode_after_a_registry_restart(
    local_stack: LocalStack, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}civilstatus.events.v1"
    admin = AdminClient({"bootstrap.servers": local_stack.bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()
    subject = value_subject(topic)
    url = local_stack.registry_url
    events = [event_from_data(CIVIL, valid_birth()) for _ in range(RECORDS)]
    sent = _produce(local_stack, topic, events)
    schema_id = framing(sent[0])[1]
    # A subject-level rule: the launcher sets only the global one, so only storage keeps this.
    httpx.put(
        f"{url}/config/{subject}", json={"compatibility": "FULL_TRANSITIVE"}
    ).raise_for_status()

    stack = Stack(local_stack.stack_dir, Settings().cache_dir)
    stack.stop_part("registry")
    started = time.monotonic()
    stack.start_part("registry")
    print(f"registry restarted in {time.monotonic() - started:.1f} s")

    assert httpx.get(f"{url}/schemas/ids/{schema_id}").status_code == 200
    assert httpx.get(f"{url}/config/{subject}").json()["compatibilityLevel"] == "FULL_TRANSITIVE"
    assert httpx.get(f"{url}/config").json()["compatibilityLevel"] == "BACKWARD_TRANSITIVE"
    received = _consume(local_stack, topic)
    assert received == sent
    decoder = Decoder(registry_client(url), topic, CIVIL)  # a fresh client: nothing cached
    assert [decoder.decode(value) for value in received] == events
