"""The router's fast path (`databus.projection_datum`) writes exactly the model path's bytes.

For generated changes of every event type, and every sector of the default topology, the
framed SectorProjection and DataUsage records and the freshness header of the datum path equal
those of `databus.projection` through the encoders, and the same sectors receive a release.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from databus.freshness import occurred_at_header
from databus.projection import releases
from databus.projection_datum import (
    CITIZEN_FIELDS,
    DatumProjector,
    UntrustedChangeError,
    same_schema,
)
from databus.serde import Decoder, Encoder
from databus.topology.loader import load_topology
from schemas.avro_files import schema_dict, schema_text
from schemas.catalog import EVENT_CLASSES
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange
from tests.strategies import admin_units, birth_dates, names, person_refs, pins, sexes, timestamps

TOPOLOGY = load_topology(Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml")
SECTORS = dict(TOPOLOGY.sectors)
CHANGES = "population.changes.v1"
TODAY = date.today() - timedelta(days=1)

client = MockSchemaRegistryClient({"url": "mock://router-fast-path"})
change_encoder = Encoder(client, CHANGES, "PopulationChange", auto_register=True)
decoder = Decoder(client, CHANGES, PopulationChange)
model_encoders = {
    name: Encoder(client, f"sector.{name}.citizens.v1", "SectorProjection", auto_register=True)
    for name in SECTORS
}
model_usage = Encoder(client, "bus.data-usage.v1", "DataUsage", auto_register=True)
# separate encoders: the fast path resolves its headers itself (Encoder.frame)
fast_encoders = {
    name: Encoder(client, f"sector.{name}.citizens.v1", "SectorProjection", auto_register=True)
    for name in SECTORS
}
fast_usage = Encoder(client, "bus.data-usage.v1", "DataUsage", auto_register=True)
projector = DatumProjector(SECTORS)

optional_text = st.none() | st.just("") | st.sampled_from(["Hà Nội", "Kinh", "nông dân", "x"])
past_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@st.composite
def addresses(draw: st.DrawFn) -> dict[str, Any]:
    return {"unit": draw(admin_units()), "street": draw(optional_text)}


@st.composite
def cards(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "card_type": draw(st.sampled_from(["CCCD", "CAN_CUOC", "CMND"])),
        "number": draw(st.from_regex(r"\A[0-9]{12}\Z")),
        "issued_on": draw(past_dates),
        "expires_on": draw(st.none() | st.dates(min_value=date(2000, 1, 1))),
        "issuer": "Cục Cảnh sát QLHC về TTXH",
    }


@st.composite
def citizens(draw: st.DrawFn) -> Citizen:
    dob, sex = draw(birth_dates), draw(sexes)
    maybe = st.booleans()
    record: dict[str, Any] = {
        "pin": draw(pins(dob, sex)),
        **draw(names),
        "date_of_birth": dob,
        "sex": sex,
        "pin_history": [
            {"pin": draw(pins()), "replaced_on": draw(past_dates), "reason": "CORRECTION"}
            for _ in range(draw(st.integers(0, 2)))
        ],
        "old_id_number": draw(st.none() | st.from_regex(r"\A[0-9]{9}\Z")),
        "other_names": draw(st.lists(st.sampled_from(["Bé", "Tí", "Tèo"]), max_size=2)),
        "place_of_birth": draw(optional_text),
        "place_of_birth_registration": draw(st.none() | admin_units()),
        "hometown": draw(optional_text),
        "ethnicity": draw(optional_text),
        "religion": draw(optional_text),
        "nationalities": draw(st.lists(st.sampled_from(["VN", "LA", "FR"]), max_size=2)),
        "blood_type": draw(st.none() | st.sampled_from(["A_POS", "O_NEG", "AB_POS"])),
        "identity_card": draw(st.none() | cards()),
        "marital_status": draw(st.sampled_from(["SINGLE", "MARRIED", "DIVORCED", "WIDOWED"])),
        "children": draw(st.lists(person_refs(), max_size=2)),
        "household_id": draw(st.none() | st.just("") | st.just("HK-0001")),
        "relation_to_head": draw(optional_text),
        "date_of_death": draw(st.none() | past_dates) if draw(maybe) else None,
        "missing_since": draw(st.none() | past_dates),
        "mobile_number": draw(st.none() | st.just("0912345678")),
        "email": draw(st.none() | st.just("a@example.vn")),
        "occupation": draw(optional_text),
    }
    for ref in ("father", "mother", "spouse", "guardian", "legal_representative"):
        record[ref] = draw(st.none() | person_refs())
    for residence in ("permanent_residence", "temporary_residence", "current_residence"):
        record[residence] = draw(st.none() | addresses())
    return Citizen.model_validate(record)


@st.composite
def changes(draw: st.DrawFn) -> PopulationChange:
    citizen = draw(citizens())
    occurred = draw(timestamps)
    return PopulationChange(
        pin=citizen.pin,
        version=draw(st.integers(1, 3) | st.integers(1, 2**40)),
        event_id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        event_type=draw(st.sampled_from(sorted(EVENT_CLASSES))),
        source="VN/GOV/BTP/hotich",
        changed_fields=draw(
            st.lists(st.sampled_from([*CITIZEN_FIELDS, "not_a_field"]), unique=True, max_size=8)
        ),
        occurred_at=occurred,
        applied_at=occurred + timedelta(seconds=draw(st.integers(0, 60))),
        citizen=citizen,
    )


def _model_path(value: bytes, now: datetime) -> tuple[list[tuple[str, bytes, bytes]], Any]:
    change = decoder.decode(value)
    assert isinstance(change, PopulationChange)
    out = [
        (
            r.sector,
            model_encoders[r.sector].encode(r.projection),
            model_usage.encode(r.usage),
        )
        for r in releases(SECTORS, change, now)
    ]
    return out, occurred_at_header(change.occurred_at)


def _fast_path(value: bytes, now: datetime) -> tuple[list[tuple[str, bytes, bytes]], Any]:
    datum = decoder.decode_datum(value)
    out = [
        (r.sector, fast_encoders[r.sector].frame(r.projection), fast_usage.frame(r.usage))
        for r in projector.releases(datum, now)
    ]
    return out, occurred_at_header(datum["occurred_at"])


@given(changes(), st.datetimes(timezones=st.just(UTC), min_value=datetime(2001, 1, 1)))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_fast_path_writes_the_model_path_bytes(change: PopulationChange, now: datetime) -> None:
    value = change_encoder.encode(change)
    assert _fast_path(value, now) == _model_path(value, now)


def test_every_event_type_and_sector_is_released_on_entering() -> None:
    """A citizen entering the population reaches every sector, on both paths."""
    now = datetime(2025, 8, 4, 3, 0, 0, 123456, tzinfo=UTC)
    citizen = Citizen.model_validate(
        {
            "pin": "001190012345",
            "family_name": "Nguyễn",
            "given_name": "Ánh",
            "date_of_birth": "1990-03-14",
            "sex": "FEMALE",
            "mobile_number": "0912345678",
        }
    )
    for event_type in sorted(EVENT_CLASSES):
        for version in (1, 2):
            change = PopulationChange(
                pin=citizen.pin,
                version=version,
                event_id=uuid.uuid4(),
                event_type=event_type,
                source="VN/GOV/BTP/hotich",
                changed_fields=["mobile_number"],
                occurred_at=now,
                applied_at=now,
                citizen=citizen,
            )
            value = change_encoder.encode(change)
            fast, model = _fast_path(value, now), _model_path(value, now)
            assert fast == model
            assert fast[0]  # something was released


def test_a_change_below_version_one_is_left_to_the_model_path() -> None:
    datum = {"version": 0, "event_type": "BirthRegistered"}
    with pytest.raises(UntrustedChangeError) as caught:
        projector.releases(datum, datetime.now(UTC))
    assert caught.value.field == "version"


def test_only_the_schema_the_fast_path_was_built_for_is_taken() -> None:
    assert same_schema(schema_text("PopulationChange"))
    schema = schema_dict("PopulationChange")
    undocumented = json.dumps({k: v for k, v in schema.items() if k != "doc"})
    assert same_schema(undocumented)  # documentation does not change a datum
    evolved = {**schema, "fields": [*schema["fields"], {"name": "extra", "type": "string"}]}
    assert not same_schema(json.dumps(evolved))
    assert not same_schema("not json")
