"""The program the compiled event checker (`schemas/_fast_check.pyx`) runs for one event type.

Built from two sources walked side by side: the event's pydantic model (what is valid: types,
lengths, patterns, the domain rule of each field type, the model-level rules) and its domain's
Avro schema (how it is written: field order, enum indexes, union branches). A node is a tuple:

- `("str", min_length, max_length, pattern, rule)`: an exact `str`; `rule` is None, `"pin"`
  (a PIN of known place code) or `"name"` (a name part already checked and normalised once);
- `("literal", value)`: exactly that string (an event's `event_type`);
- `("enum", {value: varint of the Avro symbol})`;
- `("uuid",)`, `("date", past, path)`, `("timestamp", path)`: ISO strings in their canonical
  forms; `path` is where the checker keeps the parsed value for the hooks (None in a list);
- `("optional", node)`: a `["null", T]` union;
- `("list", node, min_length)`;
- `("record", ((name, required, default, node), ...), hook)`: an exact `dict` with no
  key beyond the fields; `hook` (see `schemas.fast_rules`) runs the model's own rules;
- `("branch", varint, node)`: the payload's branch of the domain's union.

`UnsupportedModelError` is raised where a model uses a type or a validator the checker does not
reproduce: that event type then always takes the pydantic path (`schemas.fast_events`).
"""

from __future__ import annotations

import re
import types
import typing
from datetime import date
from enum import Enum
from typing import Any, Literal, Union
from uuid import UUID

from annotated_types import MaxLen, MinLen
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from schemas.avro_writer import zigzag
from schemas.fast_rules import model_hook
from schemas.models import types as field_types

Node = tuple[Any, ...]


class UnsupportedModelError(TypeError):
    """The model uses something the compiled checker does not reproduce."""


_RULES_OF_VALIDATOR = {
    field_types._pin: "pin",
    field_types._name: "name",
    field_types._past_date: "past_date",
    field_types._timestamp: "timestamp",
}


class _Constraints:
    """What a field's metadata asks of its value."""

    def __init__(self) -> None:
        self.min_length: int | None = None
        self.max_length: int | None = None
        self.pattern: str | None = None
        self.rule: str | None = None

    def add(self, item: Any) -> None:
        if isinstance(item, MaxLen):
            self.max_length = item.max_length
        elif isinstance(item, MinLen):
            self.min_length = item.min_length
        elif isinstance(item, StringConstraints):
            others = (item.strip_whitespace, item.to_upper, item.to_lower, item.strict)
            if any(o is not None for o in others) or item.ascii_only is not None:
                raise UnsupportedModelError("string constraints beyond lengths and a pattern")
            self.min_length = item.min_length if item.min_length is not None else self.min_length
            self.max_length = item.max_length if item.max_length is not None else self.max_length
            self.pattern = _pattern(item.pattern) if item.pattern is not None else self.pattern
        elif isinstance(item, AfterValidator | BeforeValidator):
            rule = _RULES_OF_VALIDATOR.get(item.func)
            if rule is None or self.rule is not None:
                raise UnsupportedModelError(f"validator {getattr(item.func, '__name__', item)!r}")
            self.rule = rule
        elif type(item).__name__ == "_PydanticGeneralMetadata":
            found = dict(vars(item))
            pattern = found.pop("pattern", None)
            if found or pattern is None:
                raise UnsupportedModelError(f"field metadata {sorted(found)}")
            self.pattern = _pattern(pattern)
        else:
            raise UnsupportedModelError(f"field metadata {type(item).__name__}")


def _pattern(pattern: Any) -> str:
    if not isinstance(pattern, str) or not pattern.startswith("^") or not pattern.endswith("$"):
        raise UnsupportedModelError("a pattern not anchored at both ends")
    re.compile(pattern)
    return pattern


class _Builder:
    def __init__(self, avro_root: dict[str, Any]) -> None:
        self.named: dict[str, Any] = {}
        self._collect(avro_root, avro_root.get("namespace", ""))

    def _collect(self, avro: Any, ns: str) -> None:
        """Every named Avro type of the schema, by full and short name."""
        if isinstance(avro, list):
            for branch in avro:
                self._collect(branch, ns)
        elif isinstance(avro, dict):
            kind = avro.get("type")
            if kind in ("record", "enum"):
                ns = avro.get("namespace", ns)
                self.named[f"{ns}.{avro['name']}"] = avro
                self.named[avro["name"]] = avro
            for f in avro.get("fields", []):
                self._collect(f["type"], ns)
            for key in ("items", "values"):
                if key in avro:
                    self._collect(avro[key], ns)

    def resolve(self, avro: Any) -> Any:
        if isinstance(avro, str) and avro in self.named:
            return self.named[avro]
        return avro

    def event(self, event_class: type[BaseModel], avro: dict[str, Any]) -> Node:
        """The program of an event class under its domain's record schema."""
        return self.record(event_class, avro, "", payload_union=True)

    def record(
        self,
        model: type[BaseModel],
        avro: Any,
        path: str | None,
        *,
        payload_union: bool = False,
    ) -> Node:
        avro = self.resolve(avro)
        if not isinstance(avro, dict) or avro.get("type") != "record":
            raise UnsupportedModelError(f"{model.__name__} is not an Avro record here")
        if model.model_config.get("extra") != "forbid":
            raise UnsupportedModelError(f"{model.__name__} accepts extra keys")
        avro_fields = avro["fields"]
        if [f["name"] for f in avro_fields] != list(model.model_fields):
            raise UnsupportedModelError(f"{model.__name__}: fields differ from the Avro record")
        fields = []
        for avro_field in avro_fields:
            name = avro_field["name"]
            info = model.model_fields[name]
            if info.alias is not None or info.validation_alias is not None:
                raise UnsupportedModelError("field aliases")
            sub = None if path is None else f"{path}.{name}" if path else name
            if payload_union and name == "payload":
                node = self.payload(info, avro_field["type"], sub)
            else:
                node = self.field(info, avro_field["type"], sub)
            fields.append((name, *self.default(info), node))
        try:
            hook = model_hook(model)
        except LookupError as exc:
            raise UnsupportedModelError(str(exc)) from None
        return ("record", tuple(fields), hook)

    def default(self, info: FieldInfo) -> tuple[bool, Any]:
        """(required, the default in the form the checker reads)."""
        if info.default_factory is not None:
            raise UnsupportedModelError("default factories")
        if info.default is PydanticUndefined:
            return True, None
        default = info.default
        if isinstance(default, Enum):
            default = default.value
        if default is not None and type(default) is not str:
            raise UnsupportedModelError("a default other than None, a string or a string enum")
        return False, default

    def payload(self, info: FieldInfo, avro: Any, path: str | None) -> Node:
        model = info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or info.metadata:
            raise UnsupportedModelError("an event payload that is not a plain record")
        if not isinstance(avro, list):
            raise UnsupportedModelError("an event payload that is not a union of records")
        for index, avro_branch in enumerate(avro):
            branch = self.resolve(avro_branch)
            if isinstance(branch, dict) and branch.get("name") == model.__name__:
                return ("branch", zigzag(index), self.record(model, branch, path))
        raise UnsupportedModelError(f"no payload branch {model.__name__}")

    def field(self, info: FieldInfo, avro: Any, path: str | None) -> Node:
        constraints = _Constraints()
        for item in info.metadata:
            constraints.add(item)
        return self.type(info.annotation, constraints, avro, path)

    def type(self, annotation: Any, constraints: _Constraints, avro: Any, path: str | None) -> Node:
        avro = self.resolve(avro)
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *meta = typing.get_args(annotation)
            inner = _Constraints()
            for item in meta:
                inner.add(item)
            if any(v is not None for v in vars(constraints).values()):
                raise UnsupportedModelError("constraints on both sides of an Annotated type")
            return self.type(base, inner, avro, path)
        if origin in (Union, types.UnionType):
            args = typing.get_args(annotation)
            if len(args) != 2 or type(None) not in args:
                raise UnsupportedModelError("unions other than Optional")
            if not (isinstance(avro, list) and len(avro) == 2 and avro[0] == "null"):
                raise UnsupportedModelError("an Optional that is not a [null, T] union")
            inner_type = args[0] if args[1] is type(None) else args[1]
            return ("optional", self.type(inner_type, constraints, avro[1], path))
        if origin is list:
            (item_type,) = typing.get_args(annotation)
            if not (isinstance(avro, dict) and avro.get("type") == "array"):
                raise UnsupportedModelError("a list that is not an Avro array")
            if constraints.max_length is not None or constraints.rule or constraints.pattern:
                raise UnsupportedModelError("list constraints beyond a minimum length")
            item = self.type(item_type, _Constraints(), avro["items"], None)
            return ("list", item, constraints.min_length or 0)
        if origin is Literal:
            (value,) = typing.get_args(annotation)
            if type(value) is not str or avro != "string":
                raise UnsupportedModelError("a literal other than one string")
            return ("literal", value)
        return self.plain(annotation, constraints, avro, path)

    def plain(
        self, annotation: Any, constraints: _Constraints, avro: Any, path: str | None
    ) -> Node:
        logical = avro.get("logicalType") if isinstance(avro, dict) else None
        simple = (constraints.min_length, constraints.max_length, constraints.pattern)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if constraints.rule or any(v is not None for v in simple):
                raise UnsupportedModelError("constraints on a record")
            return self.record(annotation, avro, path)
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            if not (isinstance(avro, dict) and avro.get("type") == "enum"):
                raise UnsupportedModelError("an enum that is not an Avro enum")
            symbols = avro["symbols"]
            if any(type(m.value) is not str for m in annotation):
                raise UnsupportedModelError("an enum of non-string values")
            return ("enum", {m.value: zigzag(symbols.index(m.name)) for m in annotation})
        if annotation is UUID and logical == "uuid" and not constraints.rule:
            return ("uuid",)
        if annotation is date and logical == "date":
            if constraints.rule not in (None, "past_date") or any(v is not None for v in simple):
                raise UnsupportedModelError("date constraints")
            return ("date", constraints.rule == "past_date", path)
        if annotation is AwareDatetime and logical == "timestamp-micros":
            if constraints.rule != "timestamp" or any(v is not None for v in simple):
                raise UnsupportedModelError("a timestamp without the timestamp rule")
            return ("timestamp", path)
        if annotation is str and avro == "string":
            if constraints.rule not in (None, "pin", "name"):
                raise UnsupportedModelError(f"rule {constraints.rule} on a string")
            return (
                "str",
                constraints.min_length,
                constraints.max_length,
                constraints.pattern,
                constraints.rule,
            )
        raise UnsupportedModelError(f"type {annotation!r} as Avro {avro!r}")


def event_program(event_class: type[BaseModel], domain_schema: dict[str, Any]) -> Node:
    """The checker's program of `event_class` written under `domain_schema` (its domain's
    Avro record); UnsupportedModelError where the model needs the pydantic path."""
    return _Builder(domain_schema).event(event_class, domain_schema)
