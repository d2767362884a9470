"""The compiled Avro writer (`schemas/_avro_write.pyx`) gives exactly what the generated Python
writer gives, in every form: the same bytes for any value, the same exception where it fails."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import avro_writer
from schemas.avro_gen import all_schemas
from schemas.avro_write_program import write_program
from schemas.avro_writer import (
    compile_datum_field_writer,
    compile_datum_writer,
    compile_json_writer,
    compile_writer,
)
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.codec import event_from_data, to_datum
from tests.strategies import events

SCHEMAS = all_schemas()

ALL_KINDS: dict[str, Any] = {
    "type": "record",
    "name": "AllKinds",
    "namespace": "t",
    "fields": [
        {"name": "text", "type": "string"},
        {"name": "number", "type": "long"},
        {"name": "small", "type": "int"},
        {"name": "flag", "type": "boolean"},
        {"name": "ratio", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B_C"]}},
        {"name": "kinds", "type": {"type": "array", "items": "Kind"}, "default": []},
        {"name": "tags", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "maybe", "type": ["null", "string"], "default": None},
        {
            "name": "inner",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Inner",
                    "fields": [{"name": "n", "type": "long", "default": 7}],
                },
            ],
            "default": None,
        },
        {"name": "nothing", "type": "null"},
    ],
}


class Kind(enum.StrEnum):
    A = "A"
    B_C = "B_C"


class Renamed(enum.StrEnum):
    """A member whose name is not its value: the Python writer cannot find it."""

    OTHER = "A"


class Inner:
    def __init__(self, n: int) -> None:
        self.n = n


class Model:
    """A model form: the writer reads attributes."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _writers(schema: dict[str, Any], form: str) -> tuple[Any, Any]:
    make = {"model": compile_writer, "datum": compile_datum_writer, "json": compile_json_writer}
    compiled, python = make[form](schema), make[form](schema, compiled=False)
    assert compiled.__class__.__name__ == "AvroWriter", "the compiled writer is not built"
    return compiled, python


MODEL_WRITERS = _writers(ALL_KINDS, "model")
DATUM_WRITERS = _writers(ALL_KINDS, "datum")


def _outcome(writer: Any, value: Any) -> object:
    out = bytearray(b"head")
    try:
        writer(value, out)
    except Exception as error:  # the exception's type is what must match
        return type(error)
    return bytes(out)


def _same(writers: tuple[Any, Any], value: Any) -> object:
    compiled, python = (_outcome(w, value) for w in writers)
    assert compiled == python
    return compiled


_ZONES = st.one_of(
    st.just(UTC),
    st.just(timezone(timedelta(hours=7))),
    st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
_TEXT = st.text(max_size=12)  # surrogates included: both writers refuse them
_VALUES = st.fixed_dictionaries(
    {
        "text": _TEXT,
        "number": st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(), st.booleans()),
        "small": st.integers(-(2**31), 2**31 - 1),
        "flag": st.one_of(st.booleans(), st.integers(0, 2), st.none()),
        "ratio": st.one_of(st.floats(allow_nan=False), st.integers(-(2**53), 2**53)),
        "raw": st.binary(max_size=80),
        "day": st.dates(date(1, 1, 1), date(9999, 12, 31)),
        "at": st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=_ZONES),
        "id": st.uuids(),
        "kind": st.sampled_from([Kind.A, Kind.B_C, "A", "B_C"]),
        "kinds": st.lists(st.sampled_from([Kind.A, "B_C"]), max_size=3),
        "tags": st.dictionaries(_TEXT, _TEXT, max_size=3),
        "maybe": st.one_of(st.none(), _TEXT),
        "inner": st.one_of(st.none(), st.integers(-(2**40), 2**40)),
        "nothing": st.none(),
    }
)


@settings(max_examples=400, deadline=None)
@given(values=_VALUES)
def test_any_value_writes_the_python_writers_bytes_in_model_and_datum_form(
    values: dict[str, Any],
) -> None:
    inner = values["inner"]
    model = Model(**{**values, "inner": None if inner is None else Inner(inner)})
    datum = {**values, "inner": None if inner is None else {"n": inner}}
    _same(MODEL_WRITERS, model)
    _same(DATUM_WRITERS, datum)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("at", datetime(2026, 1, 1)),  # naive: TypeError in both
        ("at", "2026-01-01T00:00:00Z"),
        ("day", "2026-01-01"),
        ("text", 12),
        ("number", 1.5),
        ("number", 2**70),  # beyond 64 bits: Python's zig-zag writes it, so must C
        ("kind", Renamed.OTHER),
        ("kind", "Z"),
        ("id", "not-a-uuid-but-a-string"),
        ("kinds", None),  # written as an empty array by both
        ("ratio", "x"),
        ("raw", "text"),
    ],
)
def test_odd_values_fail_or_write_alike(field: str, bad: Any) -> None:
    values = {
        "text": "x",
        "number": 1,
        "small": 2,
        "flag": True,
        "ratio": 0.5,
        "raw": b"",
        "day": date(2026, 1, 1),
        "at": datetime(2026, 1, 1, tzinfo=UTC),
        "id": uuid.uuid4(),
        "kind": "A",
        "kinds": [],
        "tags": {},
        "maybe": None,
        "inner": None,
        "nothing": None,
        field: bad,
    }
    _same(MODEL_WRITERS, Model(**values))
    _same(DATUM_WRITERS, values)


def test_a_missing_key_takes_the_default_or_fails_alike() -> None:
    datum: dict[str, Any] = {"text": "x"}
    assert _same(DATUM_WRITERS, datum) is KeyError
    full = {
        "text": "x",
        "number": 1,
        "small": 2,
        "flag": False,
        "ratio": 1.0,
        "raw": b"\x00",
        "day": date(1970, 1, 1),
        "at": datetime(1970, 1, 1, tzinfo=UTC),
        "id": uuid.UUID(int=0),
        "kind": "B_C",
        "nothing": None,
    }
    assert isinstance(_same(DATUM_WRITERS, full), bytes)  # kinds, tags, maybe, inner: defaults
    assert isinstance(_same(DATUM_WRITERS, {**full, "inner": {}}), bytes)  # n's default


def _domain_of(event_type: str) -> str:
    return next(d.name for d in EVENT_DOMAINS.values() if EVENT_CLASSES[event_type] in d.events)


@given(events)
@settings(max_examples=200, deadline=None)
def test_generated_events_write_alike_as_models_datums_and_json(data: dict[str, Any]) -> None:
    domain = EVENT_DOMAINS[_domain_of(data["event_type"])]
    event = event_from_data(domain, data)
    schema = SCHEMAS[domain.record_name]
    assert isinstance(_same(_writers(schema, "model"), event), bytes)
    payload = event.payload
    payload_schema = SCHEMAS.get(type(payload).__name__)
    if payload_schema is not None:
        assert isinstance(_same(_writers(payload_schema, "datum"), to_datum(payload)), bytes)
        as_json = payload.model_dump(mode="json")
        assert isinstance(_same(_writers(payload_schema, "json"), as_json), bytes)


def test_the_field_writer_writes_each_field_as_the_python_one() -> None:
    schema = SCHEMAS["Citizen"]
    compiled = compile_datum_field_writer(schema)
    python = compile_datum_field_writer(schema, compiled=False)
    datum = {
        "pin": "001190123456",
        "family_name": "Nguyễn",
        "given_name": "An",
        "date_of_birth": date(1990, 1, 2),
        "sex": "FEMALE",
        "nationalities": ["VN"],
    }
    parts = compiled(datum)
    assert parts == python(datum)
    assert b"".join(parts) == _same(_writers(schema, "datum"), datum)[4:]  # type: ignore[index]


def test_a_recursive_record_keeps_the_python_writer() -> None:
    schema = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}],
    }
    with pytest.raises(TypeError):
        write_program(schema, "model")
    assert compile_writer(schema).__class__.__name__ == "function"
    assert avro_writer.COMPILED
