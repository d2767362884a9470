"""The program the compiled Avro writer (`schemas/_avro_write.pyx`) runs for one schema.

A program is a tree of tuples, one per type, read exactly as `avro_writer._Compiler` reads
the schema: `("null",)`, `("boolean",)`, `("long",)` (int or long), `("double",)`,
`("string",)`, `("bytes",)`, `("date",)`, `("timestamp",)` (timestamp-micros), `("uuid",)`,
`("enum", ((symbol, varint), ...))`, `("array", items)`, `("map", values)`, `("optional", T)`
(a `["null", T]` union), `("records", ((type name, varint, program), ...))` (a union of records,
told apart by the model's class name) and `("record", ((name, default, program), ...))` where
`default` says how a dict form reads a missing key: `("none", None)` (it must be there),
`("value", d)` (`o.get(name, d)`) or `("empty", d)` (`o.get(name) or d`, a list or dict
default). A recursive record raises TypeError: its schema keeps the generated Python writer.
"""

from __future__ import annotations

from typing import Any, Literal

Program = tuple[Any, ...]
Form = Literal["model", "datum", "json"]

_NO_DEFAULT = object()
_PRIMITIVES: dict[str, Program] = {
    "null": ("null",),
    "boolean": ("boolean",),
    "int": ("long",),
    "long": ("long",),
    "double": ("double",),
    "string": ("string",),
    "bytes": ("bytes",),
}


def _varint(n: int) -> bytes:
    from schemas.avro_writer import zigzag  # here: avro_writer imports this module

    return zigzag(n)


class _Builder:
    def __init__(self, form: Form) -> None:
        self.form = form
        self.named: dict[str, Any] = {}
        self.open: set[str] = set()

    def record(self, schema: dict[str, Any], namespace: str) -> Program:
        ns = schema.get("namespace", namespace)
        fullname = f"{ns}.{schema['name']}"
        if fullname in self.open:
            raise TypeError(f"recursive record {fullname!r}")
        self.named[fullname] = schema
        self.named[schema["name"]] = schema
        self.open.add(fullname)
        fields = tuple(
            (str(f["name"]), self.default(f), self.program(f["type"], ns)) for f in schema["fields"]
        )
        self.open.discard(fullname)
        return ("record", fields)

    def default(self, field: dict[str, Any]) -> tuple[str, Any]:
        if self.form == "model":
            return ("none", None)
        default = field.get("default", _NO_DEFAULT)
        if default is _NO_DEFAULT:
            return ("none", None)
        if isinstance(default, list | dict):
            return ("empty", default)
        return ("value", default)

    def program(self, avro_type: Any, ns: str) -> Program:
        if isinstance(avro_type, list):
            return self.union(avro_type, ns)
        if isinstance(avro_type, str):
            if avro_type in self.named or f"{ns}.{avro_type}" in self.named:
                named = self.named.get(avro_type) or self.named[f"{ns}.{avro_type}"]
                return self.program(named, ns)
            return self.primitive(avro_type)
        kind = avro_type["type"]
        logical = avro_type.get("logicalType")
        if logical == "timestamp-micros":
            return ("timestamp",)
        if logical == "date":
            return ("date",)
        if logical == "uuid":
            return ("uuid",)
        if kind == "record":
            return self.record(avro_type, ns)
        if kind == "enum":
            name = avro_type["name"]
            self.named[f"{avro_type.get('namespace', ns)}.{name}"] = avro_type
            self.named[name] = avro_type
            return ("enum", tuple((s, _varint(i)) for i, s in enumerate(avro_type["symbols"])))
        if kind == "array":
            return ("array", self.program(avro_type["items"], ns))
        if kind == "map":
            return ("map", self.program(avro_type["values"], ns))
        return self.primitive(kind)

    def primitive(self, kind: str) -> Program:
        if kind == "bytes" and self.form == "json":
            raise TypeError("Avro bytes have no JSON form here")
        if kind == "float":
            raise TypeError("Avro float is not emitted by schemas.avro_gen")
        if kind not in _PRIMITIVES:
            raise TypeError(f"unsupported Avro type {kind!r}")
        return _PRIMITIVES[kind]

    def union(self, branches: list[Any], ns: str) -> Program:
        if len(branches) == 2 and branches[0] == "null":
            return ("optional", self.program(branches[1], ns))
        if not all(isinstance(b, dict) and b.get("type") == "record" for b in branches):
            raise TypeError("only [null, T] unions and unions of records are supported")
        if self.form != "model":
            raise TypeError("a union of records has no dict form to tell its branch by")
        return (
            "records",
            tuple(
                (str(b["name"]), _varint(i), self.program(b, ns)) for i, b in enumerate(branches)
            ),
        )


def write_program(schema: dict[str, Any], form: Form) -> Program:
    """The program writing record `schema` from its `form` (model attributes, or the keys of
    its datum or JSON form); TypeError where the generated Python writer is kept."""
    return _Builder(form).record(schema, schema.get("namespace", ""))
