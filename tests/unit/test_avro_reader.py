"""The compiled Avro reader returns exactly fastavro's datum, for every schema of the bus; the
Decoder reads through it once a schema id is known, with the same errors."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from hypothesis import given, settings

from databus.avro_reader import compile_reader
from databus.projection import snapshot, snapshot_release
from databus.serde import DecodeError, Decoder, Encoder
from databus.topology.loader import load_topology
from producers.generator import GeneratorConfig, generate
from schemas.avro_gen import all_schemas
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.codec import event_from_data, to_datum
from schemas.examples import EXAMPLES
from schemas.models.base import Contract
from schemas.models.citizen import Citizen
from schemas.models.downstream import (
    ClaimProblem,
    DataUsage,
    DeadLetter,
    FieldVerdict,
    Heartbeat,
    SectorProjection,
    VerificationResult,
    VerificationStatus,
)
from tests.avro_bytes import varint
from tests.strategies import events

SCHEMAS = all_schemas()
PARSED = {name: fastavro.parse_schema(schema) for name, schema in SCHEMAS.items()}
READERS = {name: compile_reader(schema) for name, schema in SCHEMAS.items()}
NOW = datetime(2025, 8, 4, 3, 0, 0, 123456, tzinfo=UTC)
TOPOLOGY = Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml"


def _body(name: str, record: Contract) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED[name], to_datum(record))
    return buffer.getvalue()


def _same_as_fastavro(name: str, body: bytes) -> None:
    reader = READERS[name]
    assert reader is not None
    expected = fastavro.schemaless_reader(io.BytesIO(body), PARSED[name], None)
    got = reader(body)
    assert got == expected
    assert repr(got) == repr(expected)  # the same types too (date, aware datetime, UUID)


def _domain_of(event_type: str) -> str:
    return next(d.name for d in EVENT_DOMAINS.values() if EVENT_CLASSES[event_type] in d.events)


@pytest.fixture(scope="module")
def citizens(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """300 generated citizens in their JSON form."""
    out = tmp_path_factory.mktemp("citizens")
    config = GeneratorConfig(
        citizens=300,
        out_dir=out,
        seed=11,
        events_per_citizen=0,
        start=date(2024, 1, 1),
        end=date(2026, 11, 20),
    )
    generate(config, load_topology(TOPOLOGY))
    with (out / "citizens.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_every_schema_of_the_bus_gets_a_compiled_reader() -> None:
    assert {name for name, reader in READERS.items() if reader is None} == set()


def test_example_events_read_like_fastavro() -> None:
    for event_type, example in EXAMPLES.items():
        domain = EVENT_DOMAINS[_domain_of(event_type)]
        _same_as_fastavro(
            domain.record_name, _body(domain.record_name, event_from_data(domain, example))
        )


@given(events)
@settings(max_examples=200, deadline=None)
def test_generated_events_read_like_fastavro(data: dict[str, Any]) -> None:
    domain = EVENT_DOMAINS[_domain_of(data["event_type"])]
    _same_as_fastavro(domain.record_name, _body(domain.record_name, event_from_data(domain, data)))


def test_citizens_and_their_projections_read_like_fastavro(
    citizens: list[dict[str, Any]],
) -> None:
    topology = load_topology(TOPOLOGY)
    for record in citizens:
        citizen = Citizen.model_validate(record)
        _same_as_fastavro("Citizen", _body("Citizen", citizen))
        for name, sector in topology.sectors.items():
            view = snapshot(sector, record)
            release = snapshot_release(name, sector, citizen.pin, 4, view, NOW)
            _same_as_fastavro("SectorProjection", _body("SectorProjection", release.projection))
            _same_as_fastavro("DataUsage", _body("DataUsage", release.usage))


def test_maps_bytes_and_long_values_read_like_fastavro() -> None:
    records: list[Contract] = [
        VerificationResult(
            request_id=uuid.uuid4(),
            sector="tax",
            record_id="sub-1",
            pin="001190123456",
            status=VerificationStatus.MATCHED,
            verdicts={f"field_{i}": FieldVerdict.MATCH for i in range(70)},  # two-byte count
            problems=[ClaimProblem(claim="pin", rule="pin.length", message="x" * 70)],
            answered_at=NOW,
        ),
        DeadLetter(
            original_topic="civilstatus.events.v1",
            original_partition=2,
            original_offset=2**40,
            original_key=None,
            original_value=bytes(range(256)) * 3,
            consumer="population-sync",
            error_class="DecodeError",
            reason="unknown_schema_id",
            message="x" * 300,
            failed_at=NOW,
        ),
        DataUsage(
            usage_id=uuid.uuid4(),
            pin="001190123456",
            sector="tax",
            agency="VN/GOV/BTC/thue",
            fields_released=[],
            legal_basis=["Luật Quản lý thuế"],
            citizen_version=1_000_000_007,
            event_id=None,
            released_at=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        Heartbeat(
            source="VN/GOV/BTP/hotich", instance="h:1", sequence=7, sent_at=NOW, interval_seconds=30
        ),
    ]
    for record in records:
        name = type(record).__name__
        _same_as_fastavro(name, _body(name, record))


def test_a_truncated_body_raises_eof_error(citizens: list[dict[str, Any]]) -> None:
    sector = load_topology(TOPOLOGY).sectors["social-insurance"]
    record = citizens[0]
    release = snapshot_release(
        "social-insurance", sector, record["pin"], 2, snapshot(sector, record), NOW
    )
    body = _body("SectorProjection", release.projection)
    reader = READERS["SectorProjection"]
    assert reader is not None
    for end in range(len(body)):
        with pytest.raises(EOFError):
            reader(body[:end])


def test_bad_indexes_and_lengths_raise_value_error() -> None:
    schema = {
        "type": "record",
        "name": "T",
        "fields": [
            {"name": "u", "type": ["null", "string"]},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
        ],
    }
    reader = compile_reader(schema)
    assert reader is not None
    assert reader(b"\x02\x04ab\x02") == {"u": "ab", "e": "B"}
    for body, message in (
        (b"\x04\x00", "union index"),
        (b"\x00\x04", "enum index"),
        (b"\x00\x03", "enum index"),
        (b"\x02\x01", "negative length"),
    ):
        with pytest.raises(ValueError, match=message):
            reader(body)
    with pytest.raises(EOFError):
        reader(b"\x02\x06ab")
    with pytest.raises(UnicodeDecodeError):
        reader(b"\x02\x02\xff\x00")


def test_the_decoder_reads_known_schema_ids_through_the_compiled_reader(
    citizens: list[dict[str, Any]],
) -> None:
    client = MockSchemaRegistryClient({"url": "mock://registry"})
    encoder = Encoder(client, "t.sector", "SectorProjection", auto_register=True)
    decoder = Decoder(client, "t.sector", SectorProjection)
    topology = load_topology(TOPOLOGY)
    sector = topology.sectors["tax"]
    projections = [
        snapshot_release("tax", sector, r["pin"], 3, snapshot(sector, r), NOW).projection
        for r in citizens[:20]
    ]
    values = [encoder.encode(p) for p in projections]
    assert [decoder.decode(v) for v in values] == projections
    assert len(decoder._readers) == 1  # learned from the first value
    with pytest.raises(DecodeError) as truncated:
        decoder.decode(values[1][: len(values[1]) - 3])
    assert truncated.value.reason == "truncated"
    with pytest.raises(DecodeError) as short:
        decoder.decode(values[1][:3])
    assert short.value.reason == "truncated"


@pytest.mark.parametrize("compiled", [True, False])
def test_a_time_beyond_pythons_range_is_a_malformed_body_not_a_crash(compiled: bool) -> None:
    """The generated reader raises OverflowError for it, the compiled one ValueError: both
    are a dead letter (`malformed_body`), never an exception out of the decoder."""
    client = MockSchemaRegistryClient({"url": "mock://registry"})
    encoder = Encoder(client, "t.heartbeat", "Heartbeat", auto_register=True)
    decoder = Decoder(
        client,
        "t.heartbeat",
        Heartbeat,
        reader_factory=lambda schema: compile_reader(schema, compiled=compiled),
    )
    beat = Heartbeat(
        source="VN/GOV/BTP/hotich", instance="i-1", sequence=1, sent_at=NOW, interval_seconds=5
    )
    value = encoder.encode(beat)
    assert decoder.decode(value) == beat  # the schema id is learned
    body = bytearray(value)
    micros = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    at = bytes(body).find(varint(micros))
    assert at > 0
    huge = bytes(body[:at]) + varint(2**62) + bytes(body[at + len(varint(micros)) :])
    with pytest.raises(DecodeError) as refused:
        decoder.decode(huge)
    assert refused.value.reason == "malformed_body"
