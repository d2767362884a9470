"""The program the compiled transcoder (`_avro_json.pyx`) runs for one Avro record schema.

A program is a tree of tuples, one per type: `("string",)`, `("long",)` (Avro int or long),
`("boolean",)`, `("null",)`, `("date",)` (int days), `("enum", symbols)`, `("array", items)`,
`("optional", program)` (a `["null", T]` union) and `("record", top, ((name, program), ...))`
with the fields in the schema's order (`top`: the stored record, which leaves out fields that
are None or []). It covers what `record_json.JsonEmission` writes as JSON; anything else
(other logical types, other unions, maps, bytes, floats, a recursive record) raises
UnsupportedSchemaError and the sink keeps its generated Python reader.
"""

from __future__ import annotations

from typing import Any

from databus.avro_codegen import SchemaCompiler, UnsupportedSchemaError

Program = tuple[Any, ...]

_PRIMITIVES: dict[str, Program] = {
    "string": ("string",),
    "int": ("long",),
    "long": ("long",),
    "boolean": ("boolean",),
    "null": ("null",),
}


class _Builder(SchemaCompiler):
    def __init__(self, named: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.named = named  # shared: the types defined here are known to the caller after
        self.open: set[str] = set()

    def program(self, avro_type: Any, ns: str, *, top: bool = False) -> Program:
        if isinstance(avro_type, list):
            if len(avro_type) != 2 or avro_type[0] != "null":
                raise UnsupportedSchemaError("only [null, T] unions")
            return ("optional", self.program(avro_type[1], ns))
        if isinstance(avro_type, str):
            if avro_type in _PRIMITIVES:
                return _PRIMITIVES[avro_type]
            return self.program(self.resolve(avro_type, ns), ns)
        kind = avro_type["type"]
        logical = avro_type.get("logicalType")
        if logical == "date" and kind == "int":
            return ("date",)
        if logical is not None:
            raise UnsupportedSchemaError(f"logical type {logical!r}")
        if kind == "record":
            return self.record(avro_type, ns, top=top)
        if kind == "enum":
            self.named.setdefault(self.fullname(avro_type, ns), avro_type)
            return ("enum", tuple(str(s) for s in avro_type["symbols"]))
        if kind == "array":
            return ("array", self.program(avro_type["items"], ns))
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        raise UnsupportedSchemaError(f"Avro type {kind!r}")

    def record(self, schema: dict[str, Any], ns: str, *, top: bool) -> Program:
        fullname = self.fullname(schema, ns)
        if fullname in self.open:
            raise UnsupportedSchemaError(f"recursive record {fullname!r}")
        self.named[fullname] = schema
        self.open.add(fullname)
        inner = fullname.rpartition(".")[0]
        fields = tuple((str(f["name"]), self.program(f["type"], inner)) for f in schema["fields"])
        self.open.discard(fullname)
        return ("record", top, fields)


def build_program(
    schema: dict[str, Any], namespace: str, named: dict[str, dict[str, Any]]
) -> Program:
    """The program of record `schema` (defined in `namespace`, where the types in `named` are
    already defined; the ones it defines are added) read into its stored JSON (the top
    record's empty fields left out)."""
    return _Builder(named).program(schema, namespace, top=True)
