"""The sink's Avro-to-row reader gives exactly the row of the model path (decode, validate,
`projection_row`) for every sector's projections, awkward strings included, and refuses a body
that does not read to its end."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.sink.store import Row, projection_row
from consumers.sink.transcode import RowReader, compile_row_reader
from databus.projection import snapshot, snapshot_release
from databus.topology.loader import load_topology
from schemas.avro_gen import record_schema
from schemas.codec import to_datum
from schemas.models.citizen import CitizenProjection
from schemas.models.downstream import SectorProjection
from tests.generated_citizens import generated_citizens

TOPOLOGY = Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml"
SCHEMA = record_schema(SectorProjection)
PARSED = parse_schema(SCHEMA)
NOW = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)


def _reader() -> RowReader:
    reader = compile_row_reader(SCHEMA, "citizen")
    assert reader is not None
    return reader


READER = _reader()


def _body(projection: SectorProjection) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, PARSED, to_datum(projection))
    return out.getvalue()


def _transcoded(body: bytes, erase: bool) -> Row:
    datum = READER(body)
    if datum["deceased"] and erase:
        return Row(datum["pin"], datum["version"], True, None)
    return Row(datum["pin"], datum["version"], datum["deceased"], datum["citizen"])


def _model(projection: SectorProjection, erase: bool) -> Row:
    decoded = SectorProjection.model_validate(projection.model_dump())
    return projection_row(
        decoded.pin, decoded.version, decoded.deceased, decoded.citizen, erase_deceased=erase
    )


def _projection(citizen: CitizenProjection, deceased: bool) -> SectorProjection:
    return SectorProjection(
        pin="001190123456",
        sector="tax",
        version=7,
        released_fields=["family_name"],
        deceased=deceased,
        citizen=citizen,
        emitted_at=NOW,
    )


def test_generated_citizens_read_into_the_model_paths_row_for_every_sector(
    tmp_path: Path,
) -> None:
    topology = load_topology(TOPOLOGY)
    records = generated_citizens(topology, tmp_path, citizens=300, seed=11)
    compared = 0
    for name, sector in topology.sectors.items():
        for record in records:
            view = snapshot(sector, record)
            release = snapshot_release(name, sector, record["pin"], 3, view, NOW)
            projection = release.projection
            assert isinstance(projection, SectorProjection)
            body = _body(projection)
            for erase in (False, True):
                assert _transcoded(body, erase) == _model(projection, erase)
                compared += 1
    assert compared == 2 * 300 * len(topology.sectors)


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    street=_TEXT,
    occupation=_TEXT,
    reason=_TEXT,
    other_names=st.lists(_TEXT, max_size=3),
    nationalities=st.lists(st.sampled_from(["VN", "LA", "KH"]), max_size=2),
    died=st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2026, 1, 1))),
    deceased=st.booleans(),
)
def test_any_strings_and_empty_values_read_into_the_model_paths_row(
    street: str,
    occupation: str,
    reason: str,
    other_names: list[str],
    nationalities: list[str],
    died: date | None,
    deceased: bool,
) -> None:
    values: dict[str, Any] = {
        "pin": "001190123456",
        "family_name": "Nguyễn",
        "given_name": "An",
        "other_names": other_names,
        "nationalities": nationalities,
        "children": [],
        "pin_history": [
            {"pin": "001090123456", "replaced_on": date(2020, 2, 29), "reason": reason}
        ],
        "permanent_residence": {
            "unit": {"scheme": "VN-63", "province_code": "01", "district_code": None},
            "street": street,
        },
        "occupation": occupation,
        "email": None,
        "date_of_death": died,
    }
    try:
        citizen = CitizenProjection.model_validate(values)
    except ValueError:
        return  # not a valid projection: the router never sends it
    projection = _projection(citizen, deceased)
    body = _body(projection)
    for erase in (False, True):
        assert _transcoded(body, erase) == _model(projection, erase)


def test_a_cut_body_is_refused() -> None:
    citizen = CitizenProjection.model_validate({"pin": "001190123456", "given_name": "An"})
    body = _body(_projection(citizen, False))
    for end in (1, len(body) // 2, len(body) - 1):
        with pytest.raises((EOFError, ValueError)):
            READER(body[:end])


def test_a_schema_without_the_record_field_gets_no_reader() -> None:
    assert compile_row_reader(SCHEMA, "no_such_field") is None
    assert compile_row_reader(SCHEMA, "pin") is None
