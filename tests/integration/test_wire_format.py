"""Our Avro records are in the Confluent wire format, readable by tools we did not write."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import avro.io
import avro.schema
import httpx
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from databus.registry import registry_client, value_subject
from databus.serde import Decoder, Encoder
from schemas.models.downstream import Heartbeat
from tests.conftest import LocalStack


def _heartbeat(sequence: int) -> Heartbeat:
    return Heartbeat(
        source="VN/GOV/BTP/hotich",
        instance="test-1",
        sequence=sequence,
        sent_at=datetime.now(UTC),
        interval_seconds=30,
    )


@pytest.fixture
def heartbeat_topic(local_stack: LocalStack, topic_prefix: str) -> str:
    topic = f"{topic_prefix}bus.heartbeats.v1"
    admin = AdminClient({"bootstrap.servers": local_stack.bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()
    return topic


def _produce(local_stack: LocalStack, topic: str, count: int) -> list[Heartbeat]:
    encoder = Encoder(
        registry_client(local_stack.registry_url), topic, "Heartbeat", auto_register=True
    )
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "enable.idempotence": True})
    records = [_heartbeat(i) for i in range(count)]
    for record in records:
        producer.produce(topic, encoder.encode(record), key=b"VN/GOV/BTP/hotich")
    assert producer.flush(10) == 0
    return records


def _raw_values(local_stack: LocalStack, topic: str, count: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": local_stack.bootstrap,
            "group.id": f"{topic}-raw",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 20
    while len(values) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            value = msg.value()
            assert value is not None
            values.append(value)
    consumer.close()
    return values


def test_registry_id_in_framing_and_bodies_decode_with_apache_avro(
    local_stack: LocalStack, heartbeat_topic: str
) -> None:
    records = _produce(local_stack, heartbeat_topic, 3)
    latest = httpx.get(
        f"{local_stack.registry_url}/subjects/{value_subject(heartbeat_topic)}/versions/latest"
    ).json()
    schema_id = latest["id"]

    values = _raw_values(local_stack, heartbeat_topic, 3)
    assert len(values) == 3
    # The Apache `avro` library decodes the body with the schema fetched from the registry by id.
    fetched = httpx.get(f"{local_stack.registry_url}/schemas/ids/{schema_id}").json()["schema"]
    reader = avro.io.DatumReader(avro.schema.parse(fetched))
    decoded: list[Any] = []
    for value in values:
        assert value[0] == 0
        assert int.from_bytes(value[1:5], "big") == schema_id
        decoded.append(reader.read(avro.io.BinaryDecoder(io.BytesIO(value[5:]))))
    for got, sent in zip(decoded, records, strict=True):
        assert got["sequence"] == sent.sequence
        assert got["source"] == sent.source
        assert got["sent_at"] == sent.sent_at

    # And our own decoder gives back the very models we sent.
    decoder = Decoder(registry_client(local_stack.registry_url), heartbeat_topic, Heartbeat)
    assert [decoder.decode(v) for v in values] == records


def test_kcat_reads_magic_byte_and_registry_schema_id(
    local_stack: LocalStack, heartbeat_topic: str
) -> None:
    assert shutil.which("kcat"), "kcat is required: apt-get install kcat (make test installs it)"
    _produce(local_stack, heartbeat_topic, 2)
    latest = httpx.get(
        f"{local_stack.registry_url}/subjects/{value_subject(heartbeat_topic)}/versions/latest"
    ).json()
    out = subprocess.run(
        [
            "kcat",
            "-b",
            local_stack.bootstrap,
            "-C",
            "-t",
            heartbeat_topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-s",
            "value=>b I",
            "-f",
            "%s\n",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split("\n")
    framings = [line.split() for line in out if line.strip()]
    assert framings == [["0", str(latest["id"])]] * 2
