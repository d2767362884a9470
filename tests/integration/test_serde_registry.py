"""Events through the real registry: framing, independent decoding, and typed decode failures."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
from typing import Any

import avro.io
import avro.schema
import fastavro
import httpx
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from databus.registry import registry_client, value_subject
from databus.serde import DecodeError, Decoder, Encoder, framing
from schemas.avro_files import schema_text
from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data, to_datum
from tests.conftest import LocalStack
from tests.contract_cases import CASES, VALID_PIN, Case, valid_birth

CIVIL = EVENT_DOMAINS["civil-status"]


@pytest.fixture
def civil_topic(local_stack: LocalStack, topic_prefix: str) -> str:
    topic = f"{topic_prefix}civilstatus.events.v1"
    admin = AdminClient({"bootstrap.servers": local_stack.bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()
    return topic


@pytest.fixture
def encoder(local_stack: LocalStack, civil_topic: str) -> Encoder:
    return Encoder(
        registry_client(local_stack.registry_url),
        civil_topic,
        "CivilStatusEvent",
        auto_register=True,
    )


@pytest.fixture
def decoder(local_stack: LocalStack, civil_topic: str) -> Decoder:
    return Decoder(registry_client(local_stack.registry_url), civil_topic, CIVIL)


def _registered_id(local_stack: LocalStack, topic: str) -> int:
    url = f"{local_stack.registry_url}/subjects/{value_subject(topic)}/versions/latest"
    schema_id: int = httpx.get(url).json()["id"]
    return schema_id


def test_event_round_trips_and_apache_avro_decodes_it_from_the_registry(
    local_stack: LocalStack, civil_topic: str, encoder: Encoder, decoder: Decoder
) -> None:
    event = event_from_data(CIVIL, valid_birth())
    value = encoder.encode(event)
    magic, schema_id, body = framing(value)
    assert (magic, schema_id) == (0, _registered_id(local_stack, civil_topic))
    assert decoder.decode(value) == event

    fetched = httpx.get(f"{local_stack.registry_url}/schemas/ids/{schema_id}").json()["schema"]
    datum: Any = avro.io.DatumReader(avro.schema.parse(fetched)).read(
        avro.io.BinaryDecoder(io.BytesIO(body))
    )
    assert datum["subject_pin"] == event.subject_pin
    assert datum["event_id"] == str(event.event_id)
    assert datum["payload"]["name"]["given_name"] == "Ánh"
    assert datum["payload"]["date_of_birth"] == event.payload.date_of_birth


def test_kcat_shows_the_framing_of_produced_events(
    local_stack: LocalStack, civil_topic: str, encoder: Encoder
) -> None:
    assert shutil.which("kcat"), "kcat is required: apt-get install kcat"
    producer = Producer({"bootstrap.servers": local_stack.bootstrap})
    event = event_from_data(CIVIL, valid_birth())
    producer.produce(civil_topic, encoder.encode(event), key=event.subject_pin.encode())
    assert producer.flush(10) == 0
    out = subprocess.run(
        [
            "kcat",
            "-b",
            local_stack.bootstrap,
            "-C",
            "-t",
            civil_topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-s",
            "value=>b I",
            "-f",
            "%k %s\n",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert out == [event.subject_pin, "0", str(_registered_id(local_stack, civil_topic))]


def _raw(local_stack: LocalStack, topic: str, datum: dict[str, Any]) -> bytes:
    """Frame a datum written by fastavro directly, bypassing our validation (a bad producer)."""
    schema = fastavro.parse_schema(json.loads(schema_text("CivilStatusEvent")))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, datum)
    return struct.pack(">bI", 0, _registered_id(local_stack, topic)) + body.getvalue()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_invalid_events_from_a_bad_producer_fail_validation_on_decode(
    local_stack: LocalStack, civil_topic: str, encoder: Encoder, decoder: Decoder, case: Case
) -> None:
    encoder.encode(event_from_data(CIVIL, valid_birth()))  # registers the schema
    good = to_datum(event_from_data(CIVIL, valid_birth()))
    bad = case.apply(valid_birth())
    datum = {**good, "subject_pin": bad["subject_pin"]}
    datum["payload"] = (good["payload"][0], {**good["payload"][1]})
    payload = datum["payload"][1]
    payload["sex"] = bad["payload"]["sex"]
    payload["name"] = bad["payload"]["name"]
    payload["date_of_birth"] = fastavro_date(bad["payload"]["date_of_birth"])
    with pytest.raises(DecodeError) as raised:
        decoder.decode(_raw(local_stack, civil_topic, datum))
    error = raised.value
    assert error.reason == "validation_failed"
    assert (case.field, case.rule) in {(i.field, i.rule) for i in error.issues}
    assert case.secret not in str(error)
    assert VALID_PIN not in str(error)


def fastavro_date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def test_undecodable_bytes_get_a_reason_fit_for_dead_lettering(
    local_stack: LocalStack, civil_topic: str, encoder: Encoder, decoder: Decoder
) -> None:
    value = encoder.encode(event_from_data(CIVIL, valid_birth()))
    cases = {
        "empty_value": b"",
        "truncated": value[:3],
        "bad_magic_byte": b"\x07" + value[1:],
        "unknown_schema_id": b"\x00" + struct.pack(">I", 987_654) + value[5:],
    }
    for reason, raw in cases.items():
        with pytest.raises(DecodeError) as raised:
            decoder.decode(raw)
        assert raised.value.reason == reason, (reason, raised.value)
        assert not raised.value.retryable
    with pytest.raises(DecodeError) as truncated_body:
        decoder.decode(value[: len(value) // 2])
    assert truncated_body.value.reason in {"truncated", "malformed_body"}
    random_bytes = b"\x00" + value[1:5] + os.urandom(64)
    with pytest.raises(DecodeError) as garbage:
        decoder.decode(random_bytes)
    assert garbage.value.reason in {"truncated", "malformed_body", "validation_failed"}


def test_decoder_reads_what_a_plain_consumer_receives(
    local_stack: LocalStack, civil_topic: str, encoder: Encoder, decoder: Decoder
) -> None:
    events = [event_from_data(CIVIL, valid_birth()) for _ in range(5)]
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "enable.idempotence": True})
    for event in events:
        producer.produce(civil_topic, encoder.encode(event), key=event.subject_pin.encode())
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": local_stack.bootstrap,
            "group.id": civil_topic,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([civil_topic])
    got = []
    for _ in range(60):
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(decoder.decode(msg.value(), record=f"offset {msg.offset()}"))
        if len(got) == len(events):
            break
    consumer.close()
    assert got == events
