"""Generate the Avro schemas (`schemas/avro/*.avsc`) from the pydantic models.

The models are the one source of truth: `python -m schemas.avro_gen` rewrites the files and
`python -m schemas.avro_gen --check` (run by the tests) fails when a file differs from what the
models give. Every field carries its `doc` and a `sensitivity` attribute.
"""

from __future__ import annotations

import functools
import json
import operator
import sys
import types
import typing
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import AwareDatetime
from pydantic.fields import FieldInfo

from schemas.models.base import Contract
from schemas.models.envelope import Event

AVRO_DIR = Path(__file__).parent / "avro"
AvroType = str | dict[str, Any] | list[Any]

_PRIMITIVES: dict[type, AvroType] = {
    str: "string",
    int: "long",
    bool: "boolean",
    float: "double",
    bytes: "bytes",
    date: {"type": "int", "logicalType": "date"},
    datetime: {"type": "long", "logicalType": "timestamp-micros"},
    AwareDatetime: {"type": "long", "logicalType": "timestamp-micros"},
    UUID: {"type": "string", "logicalType": "uuid"},
}


class _Builder:
    """Turns annotations into Avro types, defining each named type once per schema."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.defined: set[str] = set()

    def record(
        self,
        model: type[Contract],
        *,
        fields: list[dict[str, Any]] | None = None,
        name: str | None = None,
        doc: str | None = None,
    ) -> AvroType:
        fullname = f"{model.avro_namespace}.{name or model.__name__}"
        if fullname in self.defined:
            return fullname
        self.defined.add(fullname)
        return {
            "type": "record",
            "name": name or model.__name__,
            "namespace": model.avro_namespace,
            "doc": _doc(doc or model.__doc__),
            "fields": fields
            if fields is not None
            else [self.field(n, info) for n, info in model.model_fields.items()],
        }

    def field(self, name: str, info: FieldInfo, annotation: Any = None) -> dict[str, Any]:
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        avro_type = self.type_of(annotation if annotation is not None else info.annotation)
        result: dict[str, Any] = {"name": name, "type": avro_type, "doc": info.description or ""}
        default = _default(info)
        if default is not _NO_DEFAULT:
            result["default"] = default
        result["sensitivity"] = extra.get("sensitivity", "none")
        return result

    def type_of(self, annotation: Any) -> AvroType:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            return self.type_of(get_args(annotation)[0])
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            nullable = len(members) < len(get_args(annotation))
            branches = [self.type_of(m) for m in members]
            return ["null", *branches] if nullable else branches
        if origin is list:
            return {"type": "array", "items": self.type_of(get_args(annotation)[0])}
        if origin is dict:
            return {"type": "map", "values": self.type_of(get_args(annotation)[1])}
        if origin is Literal:
            return "string"
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            return self.enum(annotation)
        if isinstance(annotation, type) and issubclass(annotation, Contract):
            return self.record(annotation)
        if annotation in _PRIMITIVES:
            return _PRIMITIVES[annotation]
        raise TypeError(f"no Avro mapping for {annotation!r}")

    def enum(self, enum: type[Enum]) -> AvroType:
        fullname = f"{self.namespace}.{enum.__name__}"
        if fullname in self.defined:
            return fullname
        self.defined.add(fullname)
        return {
            "type": "enum",
            "name": enum.__name__,
            "namespace": self.namespace,
            "doc": _doc(enum.__doc__),
            "symbols": [m.value for m in enum],
        }


_NO_DEFAULT = object()


def _default(info: FieldInfo) -> Any:
    if info.is_required():
        return _NO_DEFAULT
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    value = info.default
    return value.value if isinstance(value, Enum) else value


def _doc(text: str | None) -> str:
    return " ".join((text or "").split())


def record_schema(model: type[Contract]) -> dict[str, Any]:
    """The Avro schema of a plain record model (Citizen, PopulationChange, Heartbeat, ...)."""
    schema = _Builder(model.avro_namespace).record(model)
    assert isinstance(schema, dict)
    return schema


def event_schema(base: type[Event], events: tuple[type[Event], ...]) -> dict[str, Any]:
    """The Avro schema of one event topic: the envelope, with a union of the payloads."""
    builder = _Builder(base.avro_namespace)
    fields = []
    for name, info in base.model_fields.items():
        if name == "payload":
            payloads: list[Any] = [e.model_fields["payload"].annotation for e in events]
            union = functools.reduce(operator.or_, payloads[1:], payloads[0])
            payload_field = builder.field(name, info, union)
            if not isinstance(payload_field["type"], list):  # always a union, so types can be added
                payload_field["type"] = [payload_field["type"]]
            fields.append(payload_field)
        else:
            fields.append(builder.field(name, info))
    schema = builder.record(base, fields=fields)
    assert isinstance(schema, dict)
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema of the bus by record name."""
    from schemas.catalog import EVENT_DOMAINS, RECORDS

    result = {d.record_name: event_schema(d.base, d.events) for d in EVENT_DOMAINS.values()}
    result.update({model.__name__: record_schema(model) for model in RECORDS})
    return result


def render(schema: dict[str, Any]) -> str:
    """The file text of a schema (stable formatting, UTF-8, newline at the end)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def stale_files() -> list[str]:
    """Schema files that are missing, differ from the models, or are not generated."""
    expected = {f"{name}.avsc": render(schema) for name, schema in all_schemas().items()}
    present = {p.name for p in AVRO_DIR.glob("*.avsc")}
    stale = [
        name
        for name, text in expected.items()
        if not (AVRO_DIR / name).exists() or (AVRO_DIR / name).read_text(encoding="utf-8") != text
    ]
    return sorted(stale + sorted(present - expected.keys()))


def write_all() -> list[str]:
    """Rewrite every schema file from the models; remove files no model gives."""
    expected = {f"{name}.avsc": render(schema) for name, schema in all_schemas().items()}
    for path in AVRO_DIR.glob("*.avsc"):
        if path.name not in expected:
            path.unlink()
    for name, text in expected.items():
        (AVRO_DIR / name).write_text(text, encoding="utf-8")
    return sorted(expected)


def main(argv: list[str]) -> int:
    """`python -m schemas.avro_gen [--check]`."""
    if "--check" in argv:
        stale = stale_files()
        if stale:
            print("stale Avro schemas (run `python -m schemas.avro_gen`): " + ", ".join(stale))
            return 1
        print("Avro schemas match the models")
        return 0
    print("wrote " + ", ".join(write_all()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
