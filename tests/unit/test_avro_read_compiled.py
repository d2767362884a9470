"""The compiled Avro reader (`databus/_avro_read.pyx`) gives exactly what the generated Python
reader gives: the same datum (values and types) for any body, and a refusal wherever the
Python reader refuses."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from databus import avro_reader
from databus.avro_codegen import UnsupportedSchemaError
from databus.avro_read_program import read_program
from databus.avro_reader import compile_reader
from tests.avro_bytes import has_overlong_varint, varint

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "All",
    "namespace": "t",
    "fields": [
        {"name": "text", "type": "string"},
        {"name": "number", "type": "long"},
        {"name": "small", "type": "int"},
        {"name": "flag", "type": "boolean"},
        {"name": "single", "type": "float"},
        {"name": "ratio", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "four", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B_C"]}},
        {"name": "kinds", "type": {"type": "array", "items": "Kind"}},
        {"name": "tags", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "either", "type": ["null", "string", "long", "Four"]},
        {
            "name": "inner",
            "type": {
                "type": "record",
                "name": "Inner",
                "fields": [{"name": "n", "type": "long"}, {"name": "again", "type": "Kind"}],
            },
        },
        {"name": "inners", "type": {"type": "array", "items": "Inner"}},
        {"name": "nothing", "type": "null"},
    ],
}
PARSED = fastavro.parse_schema(SCHEMA)
COMPILED = compile_reader(SCHEMA)
PYTHON = compile_reader(SCHEMA, compiled=False)
REFUSALS = (EOFError, ValueError, OverflowError)  # UnicodeDecodeError is a ValueError

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_KIND = st.sampled_from(["A", "B_C"])
_INNER = st.fixed_dictionaries({"n": st.integers(-(2**63), 2**63 - 1), "again": _KIND})
_DATUM = st.fixed_dictionaries(
    {
        "text": _TEXT,
        "number": st.integers(-(2**63), 2**63 - 1),
        "small": st.integers(-(2**31), 2**31 - 1),
        "flag": st.booleans(),
        "single": st.floats(width=32, allow_nan=False),
        "ratio": st.floats(allow_nan=False),
        "raw": st.binary(max_size=20),
        "four": st.binary(min_size=4, max_size=4),
        "day": st.dates(date(1, 1, 1), date(9999, 12, 31)),
        "at": st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31), timezones=st.just(UTC)),
        "at_ms": st.datetimes(
            datetime(1, 1, 1), datetime(9999, 12, 31), timezones=st.just(UTC)
        ).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)),
        "id": st.uuids(),
        "kind": _KIND,
        "kinds": st.lists(_KIND, max_size=3),
        "tags": st.dictionaries(_TEXT, st.one_of(st.none(), st.integers(-5, 2**40)), max_size=3),
        "either": st.one_of(st.none(), _TEXT, st.integers(-(2**63), 2**63 - 1)),
        "inner": _INNER,
        "inners": st.lists(_INNER, max_size=3),
        "nothing": st.none(),
    }
)


def _body(datum: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, PARSED, datum)
    return out.getvalue()


def _outcome(reader: Any, body: bytes) -> object:
    try:
        return reader(body)
    except REFUSALS:
        return "refused"


def test_the_compiled_reader_is_built_and_used() -> None:
    assert avro_reader.COMPILED
    assert type(COMPILED).__name__ == "AvroReader"
    assert PYTHON is not None
    assert type(PYTHON).__name__ == "function"


@settings(max_examples=300, deadline=None)
@given(datum=_DATUM)
def test_any_datum_reads_as_the_python_reader_and_fastavro_read_it(datum: dict[str, Any]) -> None:
    body = _body(datum) + b"trailing bytes are ignored"
    got = COMPILED(body)  # type: ignore[misc]
    assert got == PYTHON(body)  # type: ignore[misc]
    assert repr(got) == repr(PYTHON(body))  # type: ignore[misc]
    assert got == fastavro.schemaless_reader(io.BytesIO(body), PARSED, None)


@settings(max_examples=400, deadline=None)
@given(datum=_DATUM, data=st.data())
def test_a_damaged_body_is_refused_or_read_as_the_python_reader_reads_it(
    datum: dict[str, Any], data: st.DataObject
) -> None:
    body = bytearray(_body(datum))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.integers(0, 255))
    damaged = bytes(body[: data.draw(st.integers(0, len(body)))])
    compiled = _outcome(COMPILED, damaged)
    if compiled == "refused" and has_overlong_varint(damaged):
        return  # a varint of more than 64 bits: not Avro; Python reads it as a big integer
    python = _outcome(PYTHON, damaged)
    assert compiled == python
    if compiled != "refused":
        assert repr(compiled) == repr(python)


@pytest.mark.parametrize(
    ("days", "micros"),
    [(-719162, -62135596800000000), (2932896, 253402300799999999)],  # 0001-01-01, 9999-12-31
)
def test_the_edges_of_pythons_dates_and_times(days: int, micros: int) -> None:
    schema = {"type": "record", "name": "E", "fields": SCHEMA["fields"][8:10]}
    fast, slow = compile_reader(schema), compile_reader(schema, compiled=False)
    assert fast is not None
    assert slow is not None

    body = varint(days) + varint(micros)
    assert fast(body) == slow(body)
    assert fast(body)["at"] - fast(body)["at"] == timedelta(0)
    step = 1 if days > 0 else -1
    for beyond in (varint(days + step) + varint(micros), varint(days) + varint(micros + step)):
        with pytest.raises(REFUSALS):
            fast(beyond)
        with pytest.raises(REFUSALS):
            slow(beyond)


def test_a_recursive_record_keeps_the_python_reader() -> None:
    schema = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}],
    }
    with pytest.raises(UnsupportedSchemaError):
        read_program(schema)
    reader = compile_reader(schema)
    assert reader is not None
    assert type(reader).__name__ == "function"
    assert reader(b"\x02\x02\x00") == {"next": {"next": {"next": None}}}
