"""The program the compiled Avro reader (`databus/_avro_read.pyx`) runs for one schema.

A program is a tree of tuples, one per type, read as `avro_reader.ReaderCompiler` reads the
schema: `("null",)`, `("boolean",)`, `("long",)` (int or long), `("float",)`, `("double",)`,
`("bytes",)`, `("string",)`, `("fixed", size)`, `("date",)`, `("timestamp-micros",)`,
`("timestamp-millis",)`, `("uuid",)`, `("enum", symbols)`, `("array", items)`,
`("map", values)`, `("union", branches)`, `("record", ((name, program), ...))` and
`("call", reader)`, a record read by `reader(body, position) -> (value, position after it)`
(`read_program`'s `readers`: the sink reads a projection's citizen into its stored JSON so). A
recursive record raises UnsupportedSchemaError: its schema keeps the generated Python reader.
"""

from __future__ import annotations

from typing import Any

from databus.avro_codegen import SchemaCompiler, UnsupportedSchemaError

Program = tuple[Any, ...]

_PRIMITIVES: dict[str, Program] = {
    "null": ("null",),
    "boolean": ("boolean",),
    "int": ("long",),
    "long": ("long",),
    "float": ("float",),
    "double": ("double",),
    "bytes": ("bytes",),
    "string": ("string",),
}
_LOGICAL = {
    ("int", "date"): "date",
    ("long", "timestamp-micros"): "timestamp-micros",
    ("long", "timestamp-millis"): "timestamp-millis",
    ("string", "uuid"): "uuid",
}


class _Builder(SchemaCompiler):
    def __init__(self, readers: dict[str, Any]) -> None:
        super().__init__()
        self.readers = readers
        self.open: set[str] = set()

    def program(self, avro_type: Any, ns: str) -> Program:
        if isinstance(avro_type, list):
            if len(avro_type) > 64:
                raise UnsupportedSchemaError("a union of more than 64 branches")
            return ("union", tuple(self.program(branch, ns) for branch in avro_type))
        if isinstance(avro_type, str):
            if avro_type in _PRIMITIVES:
                return _PRIMITIVES[avro_type]
            return self.program(self.resolve(avro_type, ns), ns)
        kind = avro_type["type"]
        logical = avro_type.get("logicalType")
        if logical is not None:
            converted = _LOGICAL.get((kind, logical))
            if converted is None:
                raise UnsupportedSchemaError(f"logical type {logical!r} on {kind!r}")
            return (converted,)
        if kind == "record":
            return self.record(avro_type, ns)
        if kind == "enum":
            self.named.setdefault(self.fullname(avro_type, ns), avro_type)
            return ("enum", tuple(str(s) for s in avro_type["symbols"]))
        if kind == "fixed":
            self.named.setdefault(self.fullname(avro_type, ns), avro_type)
            return ("fixed", int(avro_type["size"]))
        if kind == "array":
            return ("array", self.program(avro_type["items"], ns))
        if kind == "map":
            return ("map", self.program(avro_type["values"], ns))
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        raise UnsupportedSchemaError(f"Avro type {kind!r}")

    def record(self, schema: dict[str, Any], namespace: str) -> Program:
        fullname = self.fullname(schema, namespace)
        if fullname in self.readers:
            self.named[fullname] = schema
            return ("call", self.readers[fullname])
        if fullname in self.open:
            raise UnsupportedSchemaError(f"recursive record {fullname!r}")
        self.named[fullname] = schema
        self.open.add(fullname)
        ns = fullname.rpartition(".")[0]
        fields = tuple((str(f["name"]), self.program(f["type"], ns)) for f in schema["fields"])
        self.open.discard(fullname)
        return ("record", fields)


def read_program(schema: dict[str, Any], readers: dict[str, Any] | None = None) -> Program:
    """The program reading record `schema` into its datum, with the records named in
    `readers` (full names) read by their reader; UnsupportedSchemaError where the generated
    Python reader is kept."""
    return _Builder(readers or {}).record(schema, "")
