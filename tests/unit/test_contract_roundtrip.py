"""Property tests: any valid event encodes to Avro and decodes back to the very same model."""

from __future__ import annotations

import io
import unicodedata
from typing import Any

import fastavro
from hypothesis import given, settings

from schemas.avro_gen import all_schemas
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.codec import event_from_data, to_datum
from schemas.models.envelope import Event
from tests.strategies import birth_events, events

PARSED = {name: fastavro.parse_schema(schema) for name, schema in all_schemas().items()}


def _domain(data: dict[str, Any]) -> str:
    return next(
        d for d in EVENT_DOMAINS.values() if EVENT_CLASSES[data["event_type"]] in d.events
    ).name


def _round_trip(event: Event, domain: str) -> Event:
    schema = PARSED[EVENT_DOMAINS[domain].record_name]
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, to_datum(event))
    buffer.seek(0)
    datum = fastavro.schemaless_reader(buffer, schema, schema)
    assert isinstance(datum, dict)
    return event_from_data(EVENT_DOMAINS[domain], datum)


@given(events)
@settings(max_examples=300, deadline=None)
def test_encode_then_decode_gives_back_the_same_event(data: dict[str, Any]) -> None:
    domain = _domain(data)
    event = event_from_data(EVENT_DOMAINS[domain], data)
    assert _round_trip(event, domain) == event


def _all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _all_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _all_strings(v)]
    return []


@given(birth_events())
@settings(max_examples=200, deadline=None)
def test_names_in_composed_or_decomposed_form_come_out_nfc(data: dict[str, Any]) -> None:
    event = event_from_data(EVENT_DOMAINS["civil-status"], data)
    decoded = _round_trip(event, "civil-status")
    name = decoded.payload.name
    for part in (name.family_name, name.middle_name, name.given_name):
        if part is not None:
            assert unicodedata.is_normalized("NFC", part)
    sent = data["payload"]["name"]
    assert name.family_name == unicodedata.normalize("NFC", sent["family_name"])
    assert name.given_name == unicodedata.normalize("NFC", sent["given_name"])
    for text in _all_strings(decoded.model_dump(mode="json")):
        assert unicodedata.is_normalized("NFC", text) or text.isascii()


@given(birth_events())
@settings(max_examples=20, deadline=None)
def test_composed_and_decomposed_spellings_give_equal_events(base: dict[str, Any]) -> None:
    composed = {"family_name": "Nguyễn", "middle_name": "Thị", "given_name": "Ánh"}
    decomposed = {k: unicodedata.normalize("NFD", v) for k, v in composed.items()}
    assert decomposed != composed
    one = event_from_data(
        EVENT_DOMAINS["civil-status"], {**base, "payload": {**base["payload"], "name": composed}}
    )
    two = event_from_data(
        EVENT_DOMAINS["civil-status"], {**base, "payload": {**base["payload"], "name": decomposed}}
    )
    assert one == two
