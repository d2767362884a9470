"""The compiled transcoder (`consumers/sink/_avro_json.pyx`) gives exactly what the generated
Python reader gives: the same JSON text and position for any value of every type it reads, and
a refusal wherever the Python reader refuses."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.sink import transcode
from consumers.sink._avro_json import JsonReader
from consumers.sink.json_program import build_program
from databus.avro_codegen import UnsupportedSchemaError
from tests.avro_bytes import has_overlong_varint, varint

INNER: dict[str, Any] = {
    "type": "record",
    "name": "Inner",
    "namespace": "t.inner",
    "fields": [
        {"name": "zeta", "type": "string"},
        {"name": "alpha", "type": ["null", "long"]},
        {"name": "born", "type": ["null", {"type": "int", "logicalType": "date"}]},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B_C"]}},
        {"name": "flag", "type": "boolean"},
        {"name": "nothing", "type": "null"},
        {
            "name": "items",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Item",
                    "fields": [
                        {"name": "n", "type": "int"},
                        {"name": "again", "type": ["null", "Kind"]},
                        {"name": "words", "type": {"type": "array", "items": "string"}},
                    ],
                },
            },
        },
        {"name": "maybe_items", "type": ["null", {"type": "array", "items": "Item"}]},
        {"name": "note", "type": ["null", "string"]},
    ],
}
WRAPPER: dict[str, Any] = {
    "type": "record",
    "name": "Wrapper",
    "namespace": "t",
    "fields": [
        {"name": "version", "type": "long"},
        {"name": "body", "type": INNER},
        {"name": "after", "type": "string"},
    ],
}
PARSED = parse_schema(WRAPPER)


def _readers() -> tuple[transcode.RowReader, transcode.RowReader]:
    compiled = transcode.compile_row_reader(WRAPPER, "body")
    python = transcode.compile_row_reader(WRAPPER, "body", compiled=False)
    assert compiled is not None
    assert python is not None
    return compiled, python


COMPILED, PYTHON = _readers()

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=16)
_KIND = st.sampled_from(["A", "B_C"])
_ITEM = st.fixed_dictionaries(
    {
        "n": st.integers(-(2**31), 2**31 - 1),
        "again": st.one_of(st.none(), _KIND),
        "words": st.lists(_TEXT, max_size=3),
    }
)
_INNER = st.fixed_dictionaries(
    {
        "zeta": _TEXT,
        "alpha": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        "born": st.one_of(st.none(), st.dates(date(1, 1, 1), date(9999, 12, 31))),
        "kind": _KIND,
        "flag": st.booleans(),
        "nothing": st.none(),
        "items": st.lists(_ITEM, max_size=3),
        "maybe_items": st.one_of(st.none(), st.lists(_ITEM, max_size=2)),
        "note": st.one_of(st.none(), _TEXT),
    }
)


def _body(inner: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, PARSED, {"version": 3, "body": inner, "after": "end"})
    return out.getvalue()


def _outcome(reader: transcode.RowReader, body: bytes) -> object:
    try:
        return reader(body)
    except (EOFError, ValueError) as error:
        return type(error) if not isinstance(error, UnicodeDecodeError) else ValueError


def test_the_compiled_transcoder_is_built() -> None:
    """`pip install -e .` builds it (setup.py); without it the sink falls back to Python."""
    assert transcode.COMPILED


@settings(max_examples=300, deadline=None)
@given(inner=_INNER)
def test_every_value_reads_into_the_python_readers_text(inner: dict[str, Any]) -> None:
    body = _body(inner)
    datum = COMPILED(body)
    assert datum == PYTHON(body)
    assert datum["after"] == "end"
    stored = json.loads(datum["body"])
    assert set(stored) == {k for k, v in inner.items() if v not in (None, [])}


@settings(max_examples=300, deadline=None)
@given(inner=_INNER, data=st.data())
def test_a_damaged_body_is_refused_or_read_as_the_python_reader_reads_it(
    inner: dict[str, Any], data: st.DataObject
) -> None:
    body = bytearray(_body(inner))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    damaged = bytes(body[:cut])
    compiled = _outcome(COMPILED, damaged)
    if compiled is ValueError and has_overlong_varint(damaged):
        return  # a varint of more than 64 bits: not Avro; Python reads it as a big integer
    python = _outcome(PYTHON, damaged)
    if isinstance(python, type) or isinstance(compiled, type):
        assert isinstance(python, type) and isinstance(compiled, type), (python, compiled)
    else:
        assert compiled == python


def test_strings_are_escaped_as_the_json_module_escapes_them() -> None:
    text = '"\\/\x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f é ệ 𝄞'
    inner: dict[str, Any] = {
        "zeta": text,
        "alpha": None,
        "born": None,
        "kind": "A",
        "flag": False,
        "nothing": None,
        "items": [],
        "maybe_items": None,
        "note": None,
    }
    stored = COMPILED(_body(inner))["body"]
    assert (
        stored
        == '{"flag": false, "kind": "A", "zeta": ' + json.dumps(text, ensure_ascii=False) + "}"
    )


def test_extreme_longs_and_dates() -> None:
    program = build_program(INNER, "t", {})
    reader = JsonReader(program)
    for alpha, born in ((-(2**63), date(1, 1, 1)), (2**63 - 1, date(9999, 12, 31))):
        inner: dict[str, Any] = {
            "zeta": "",
            "alpha": alpha,
            "born": born,
            "kind": "B_C",
            "flag": True,
            "nothing": None,
            "items": [],
            "maybe_items": [],
            "note": "",
        }
        body = _body(inner)
        text, end = reader(body, 1)  # after the wrapper's one-byte version
        assert json.loads(text)["alpha"] == alpha
        assert json.loads(text)["born"] == born.isoformat()
        assert body[end:] == b"\x06end"


def test_a_date_out_of_pythons_range_is_refused() -> None:
    schema = {
        "type": "record",
        "name": "D",
        "fields": [{"name": "d", "type": INNER["fields"][2]["type"][1]}],
    }
    reader = JsonReader(build_program(schema, "", {}))
    for days in (-719163, 2932897):  # 0001-01-01 minus one day, 9999-12-31 plus one
        with pytest.raises(ValueError):
            reader(varint(days), 0)


@pytest.mark.parametrize(
    "avro_type",
    [
        "float",
        "bytes",
        {"type": "map", "values": "string"},
        ["string", "null"],
        {"type": "string", "logicalType": "uuid"},
    ],
)
def test_a_type_it_does_not_read_leaves_the_python_reader(avro_type: Any) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "x", "type": avro_type}]}
    with pytest.raises(UnsupportedSchemaError):
        build_program(schema, "", {})


def test_a_recursive_record_leaves_the_python_reader() -> None:
    schema = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}],
    }
    with pytest.raises(UnsupportedSchemaError):
        build_program(schema, "", {})
