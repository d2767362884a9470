"""Avro straight to the sector row: a projection's body read into its stored JSON, no model.

The sink stores a projection's citizen as the JSON text of `store.to_row` (keys sorted, empty
top-level fields left out, non-ASCII kept). Going through the model costs, per social-insurance
record, about 17 µs of Avro decoding into a datum, 19-22 µs of pydantic validation and 12 µs of
JSON from the model. Sector topics carry only what the bus itself built from validated citizens
(the router, the backfill and the reconciler's repairs; docs/architecture.md, "What each stage
trusts"), so the sink checks structure (the Avro body must read to its end under the registered
schema) but not the domain rules again, and reads the body directly into the row: for a record
schema we generate (once) reader functions, like `databus.avro_reader`, whose citizen record
returns its JSON text instead of a dict. A property test holds the text equal to the model
path's (`store.projection_row`) for generated citizens of every sector.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from consumers.sink.json_program import build_program
from consumers.sink.record_json import JsonEmission
from databus import avro_reader
from databus.avro_codegen import UnsupportedSchemaError
from databus.avro_read_program import read_program
from databus.avro_reader import PRIMITIVES, ReaderCompiler, build_reader

try:
    from consumers.sink._avro_json import JsonReader
    from databus._avro_read import AvroReader

    COMPILED = True
    """Whether the compiled transcoder is built (`setup.py`); without it the sink reads the
    JSON record with the generated Python functions below, the same text more slowly."""
except ImportError:  # pragma: no cover - a tree installed without its C extension
    COMPILED = False

RowReader = Callable[[bytes], dict[str, Any]]
"""Reads a projection body into its datum, with the JSON field as stored JSON text."""

_encode_string: Callable[[str], str] = json.encoder.encode_basestring


class _Compiler(JsonEmission, ReaderCompiler):
    """A reader whose records named in `as_json` (and every record inside them) read into
    JSON text: the top one as `to_row` stores it, nested ones with every key."""

    def __init__(self, as_json: str, *, compiled: bool = True) -> None:
        super().__init__()
        self.as_json = as_json
        self.compiled = compiled
        self.json_reader: JsonReader | None = None
        """The compiled reader of the JSON record, once made."""
        self.json_depth = 0
        self.constants["_s"] = _encode_string

    def read(self, avro_type: Any, var: str, ns: str, ind: str) -> list[str]:
        if isinstance(avro_type, str) and avro_type not in PRIMITIVES:
            avro_type = self.resolve(avro_type, ns)
        if isinstance(avro_type, dict) and avro_type.get("type") == "record":
            fullname = self.fullname(avro_type, ns)
            if not self.json_depth and fullname == self.as_json and self.compiled and COMPILED:
                reader = self.compiled_reader(avro_type, ns)
                if reader is not None:
                    return [f"{ind}{var}, p = {self.const(reader)}(b, p)"]
            if self.json_depth or fullname == self.as_json:
                func = self.json_record(avro_type, ns, top=not self.json_depth)
                return [f"{ind}{var}, p = {func}(b, p)"]
        return super().read(avro_type, var, ns, ind)

    def compiled_reader(self, schema: dict[str, Any], ns: str) -> JsonReader | None:
        """The compiled reader of record `schema` into its stored JSON, if this schema is one
        it reads (`json_program.py`)."""
        try:
            program = build_program(schema, ns, self.named)
        except (UnsupportedSchemaError, KeyError, TypeError):
            return None
        self.json_reader = JsonReader(program)
        return self.json_reader

    def json_record(self, schema: dict[str, Any], namespace: str, *, top: bool) -> str:
        """A function `(b, p) -> (JSON text, p)` reading a record (`top`: empty fields left
        out, as `to_row` leaves them out)."""
        fullname = self.fullname(schema, namespace)
        func = ("jt_" if top else "jn_") + fullname.replace(".", "_")
        if func in self.functions:
            return func
        self.named[fullname] = schema
        self.functions[func] = []  # reserved before recursing
        ns = fullname.rpartition(".")[0]
        body = [f"def {func}(b, p):"]
        texts: dict[str, tuple[str, Any]] = {}
        self.json_depth += 1
        try:
            for field in schema["fields"]:
                var = self.fresh("f")
                body.extend(self.read(field["type"], var, ns, "    "))
                texts[str(field["name"])] = (var, field["type"])
        finally:
            self.json_depth -= 1
        if top:
            body.append("    parts = []")
        members = []
        for name in sorted(texts):
            var, avro_type = texts[name]
            key = _encode_string(name) + ": "
            text = self.fresh("t")
            if not top:
                body.extend(self.value(avro_type, var, text, ns, "    "))
                members.append(f"{key!r} + {text}")
                continue
            if isinstance(avro_type, list) and len(avro_type) == 2 and avro_type[0] == "null":
                avro_type = avro_type[1]  # None is left out
            empty = f"{var} is not None and {var} != []" if self.is_array(avro_type, ns) else None
            body.append(f"    if {empty or f'{var} is not None'}:")
            body.extend(self.value(avro_type, var, text, ns, "        "))
            body.append(f"        parts.append({key!r} + {text})")
        if top:
            body.append("    return '{' + ', '.join(parts) + '}', p")
        else:
            joined = " + ', ' + ".join(members) if members else "''"
            body.append(f"    return '{{' + {joined} + '}}', p")
        self.functions[func] = body
        return func

    def record_text(self, avro_type: dict[str, Any], var: str, ns: str) -> str:
        return var  # records inside the JSON record were read into their text already


def compile_row_reader(
    schema: dict[str, Any] | str, json_field: str, *, compiled: bool = True
) -> RowReader | None:
    """A reader of Avro bodies of record `schema` (its dict or JSON text) into their datum,
    except that record field `json_field` reads into its stored JSON text; None if the schema
    has no such record field or uses a type this module does not write as JSON. The JSON field
    is read by the compiled transcoder where it can (`compiled`, and built), else by generated
    Python."""
    parsed = json.loads(schema) if isinstance(schema, str) else schema
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        return None
    field = next((f for f in parsed.get("fields", []) if f.get("name") == json_field), None)
    if field is None or not isinstance(field["type"], dict) or field["type"]["type"] != "record":
        return None
    compiler = _Compiler("", compiled=compiled)
    compiler.as_json = compiler.fullname(field["type"], parsed.get("namespace", ""))
    try:
        top = compiler.record(parsed, "")
    except (UnsupportedSchemaError, KeyError, TypeError, ValueError):
        return None
    if compiler.json_reader is not None and avro_reader.COMPILED:
        try:  # all in C: the compiled Avro reader calling the JSON one for its record
            program = read_program(parsed, {compiler.as_json: compiler.json_reader})
            compiled_reader: RowReader = AvroReader(program)
            return compiled_reader
        except (UnsupportedSchemaError, KeyError, TypeError, ValueError):
            pass
    reader: RowReader = build_reader(compiler, top, str(parsed.get("name")))
    return reader
