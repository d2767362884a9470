"""The compiled writer produces exactly fastavro's bytes, for every event and record type."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import fastavro
from hypothesis import given, settings

from schemas.avro_gen import all_schemas
from schemas.avro_writer import compile_json_writer, compile_writer, encode, zigzag
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.codec import event_from_data, to_datum
from schemas.examples import EXAMPLES
from schemas.models.base import Contract
from schemas.models.citizen import Citizen, CitizenProjection
from schemas.models.downstream import (
    ClaimProblem,
    DataUsage,
    DeadLetter,
    FieldVerdict,
    Heartbeat,
    PopulationChange,
    SectorProjection,
    VerificationClaims,
    VerificationRequest,
    VerificationResult,
    VerificationStatus,
)
from tests.strategies import events

SCHEMAS = all_schemas()
PARSED = {name: fastavro.parse_schema(schema) for name, schema in SCHEMAS.items()}
WRITERS = {name: compile_writer(schema) for name, schema in SCHEMAS.items()}


def _fastavro(name: str, record: Contract) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED[name], to_datum(record))
    return buffer.getvalue()


def _domain_of(event_type: str) -> str:
    return next(d.name for d in EVENT_DOMAINS.values() if EVENT_CLASSES[event_type] in d.events)


def test_zigzag_matches_the_avro_spec() -> None:
    assert [zigzag(n) for n in (0, -1, 1, -2, 2, 63, -64, 64)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x03",
        b"\x04",
        b"\x7e",
        b"\x7f",
        b"\x80\x01",
    ]
    assert zigzag(2**62) == b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"


@given(events)
@settings(max_examples=300, deadline=None)
def test_generated_events_encode_like_fastavro(data: dict[str, Any]) -> None:
    domain = EVENT_DOMAINS[_domain_of(data["event_type"])]
    event = event_from_data(domain, data)
    assert encode(WRITERS[domain.record_name], event) == _fastavro(domain.record_name, event)


def test_every_example_event_encodes_like_fastavro() -> None:
    for event_type, example in EXAMPLES.items():
        domain = EVENT_DOMAINS[_domain_of(event_type)]
        event = event_from_data(domain, example)
        assert encode(WRITERS[domain.record_name], event) == _fastavro(domain.record_name, event)


def _citizen() -> Citizen:
    birth = event_from_data(EVENT_DOMAINS["civil-status"], EXAMPLES["BirthRegistered"]).payload
    return Citizen(
        pin=EXAMPLES["BirthRegistered"]["subject_pin"],
        family_name=birth.name.family_name,
        middle_name=birth.name.middle_name,
        given_name=birth.name.given_name,
        date_of_birth=birth.date_of_birth,
        sex=birth.sex,
        nationalities=["VN"],
        father=birth.father,
        mother=birth.mother,
        children=[],
        other_names=["Bé Na"],
        blood_type="O_POS",
        place_of_birth_registration=birth.place_of_birth_registration,
    )


def test_bus_records_encode_like_fastavro() -> None:
    now = datetime(2025, 8, 4, 3, 0, 0, 123456, tzinfo=UTC)
    citizen = _citizen()
    records: list[Contract] = [
        citizen,
        PopulationChange(
            pin=citizen.pin,
            version=3,
            event_id=uuid.uuid4(),
            event_type="BirthRegistered",
            source="VN/GOV/BTP/hotich",
            changed_fields=["family_name", "given_name"],
            occurred_at=now,
            applied_at=now,
            citizen=citizen,
        ),
        SectorProjection(
            pin=citizen.pin,
            sector="tax",
            version=3,
            released_fields=["pin"],
            deceased=False,
            citizen=CitizenProjection.model_validate({"pin": citizen.pin}),
            emitted_at=now,
        ),
        VerificationRequest(
            request_id=uuid.uuid4(),
            sector="tax",
            record_id="customer-17",
            pin=citizen.pin,
            claims=VerificationClaims(given_name="Ánh", date_of_birth="2024-05-17"),
            requested_at=now,
        ),
        VerificationResult(
            request_id=uuid.uuid4(),
            sector="tax",
            record_id="customer-17",
            pin=citizen.pin,
            status=VerificationStatus.MISMATCHED,
            verdicts={"given_name": FieldVerdict.MATCH, "date_of_birth": FieldVerdict.MISMATCH},
            problems=[
                ClaimProblem(claim="sex", rule="verification.field_not_allowed", message="no")
            ],
            answered_at=now,
        ),
        DeadLetter(
            original_topic="civilstatus.events.v1",
            original_partition=2,
            original_offset=123456789,
            original_key=b"k",
            original_value=b"\x00\x01",
            consumer="population-sync",
            error_class="DecodeError",
            reason="unknown_schema_id",
            message="schema id 9 is not in the registry",
            failed_at=now,
        ),
        DataUsage(
            usage_id=uuid.uuid4(),
            pin=citizen.pin,
            sector="tax",
            agency="VN/GOV/BTC/thue",
            fields_released=["pin", "family_name"],
            legal_basis=["Luật Quản lý thuế"],
            citizen_version=3,
            event_id=None,
            released_at=now,
        ),
        Heartbeat(
            source="VN/GOV/BTP/hotich", instance="h:1", sequence=7, sent_at=now, interval_seconds=30
        ),
    ]
    for record in records:
        name = type(record).__name__
        assert encode(WRITERS[name], record) == _fastavro(name, record), name


JSON_WRITERS = {
    name: compile_json_writer(SCHEMAS[name]) for name in ("Citizen", "PopulationChange")
}
"""Writers of JSON forms, for the records that are kept as JSON (the NPD's citizens)."""


def test_a_citizen_in_json_form_encodes_like_the_model() -> None:
    citizen = _citizen()
    name = "Citizen"
    as_json = citizen.model_dump(mode="json")
    assert encode(JSON_WRITERS[name], as_json) == encode(WRITERS[name], citizen)
    defaults_left_out = {k: v for k, v in as_json.items() if v not in (None, [], "SINGLE")}
    assert encode(JSON_WRITERS[name], defaults_left_out) == encode(WRITERS[name], citizen)


def test_timestamps_and_uuids_in_json_form_encode_like_the_model() -> None:
    now = datetime(2025, 8, 4, 3, 0, 0, 123456, tzinfo=UTC)
    change = PopulationChange(
        pin=_citizen().pin,
        version=7,
        event_id=uuid.uuid4(),
        event_type="BirthRegistered",
        source="VN/GOV/BTP/hotich",
        changed_fields=["family_name"],
        occurred_at=now,
        applied_at=now,
        citizen=_citizen(),
    )
    name = "PopulationChange"
    assert encode(JSON_WRITERS[name], change.model_dump(mode="json")) == _fastavro(name, change)


@given(events)
@settings(max_examples=100, deadline=None)
def test_generated_citizens_in_json_form_encode_like_the_model(data: dict[str, Any]) -> None:
    """Every payload value an event can put into a citizen record."""
    if data["event_type"] != "BirthRegistered":
        return
    birth = event_from_data(EVENT_DOMAINS["civil-status"], data).payload
    citizen = Citizen(
        pin=data["subject_pin"],
        family_name=birth.name.family_name,
        middle_name=birth.name.middle_name,
        given_name=birth.name.given_name,
        date_of_birth=birth.date_of_birth,
        sex=birth.sex,
        place_of_birth=birth.place_of_birth,
        place_of_birth_registration=birth.place_of_birth_registration,
        hometown=birth.hometown,
        ethnicity=birth.ethnicity,
        nationalities=birth.nationalities,
        father=birth.father,
        mother=birth.mother,
    )
    as_json = citizen.model_dump(mode="json")
    assert encode(JSON_WRITERS["Citizen"], as_json) == _fastavro("Citizen", citizen)
