"""What the code generators over Avro schemas share (`databus.avro_reader`,
`consumers.sink.record_json`): fresh names and named-type resolution."""

from __future__ import annotations

from typing import Any


class UnsupportedSchemaError(Exception):
    """The schema uses something a generator does not handle (the caller falls back)."""


class SchemaCompiler:
    """Base of a generator emitting one Python function per named record of a schema."""

    def __init__(self) -> None:
        self.named: dict[str, dict[str, Any]] = {}
        self.functions: dict[str, list[str]] = {}
        self.counter = 0

    def fresh(self, stem: str) -> str:
        """A name not used before in the generated source."""
        self.counter += 1
        return f"{stem}{self.counter}"

    def fullname(self, schema: dict[str, Any], namespace: str) -> str:
        """The full name of a named type, in the namespace it is defined in."""
        name = str(schema["name"])
        if "." in name:
            return name
        ns = schema.get("namespace", namespace)
        return f"{ns}.{name}" if ns else name

    def resolve(self, name: str, namespace: str) -> dict[str, Any]:
        """The definition of a named type referred to by `name` from `namespace`."""
        for candidate in (name, f"{namespace}.{name}"):
            if candidate in self.named:
                return self.named[candidate]
        raise UnsupportedSchemaError(f"unknown named type {name!r}")
