"""Compiled Avro writers: encode a validated model straight to Avro binary.

For each schema we generate (once) a Python function that reads the model's attributes and
appends Avro binary to a bytearray, with no intermediate dict and no per-call schema walk.
The output is byte-for-byte what fastavro writes for `schemas.codec.to_datum(model)`; a property
test holds the two together. Supports exactly the Avro subset `schemas.avro_gen` emits.

`compile_json_writer` makes the same writer for a record's JSON form (`model.model_dump(
mode="json")`, absent keys taking the schema's defaults), so that data kept as JSON (the
population database's citizen records) is encoded without building the model again.
`compile_datum_writer` does the same for a record's datum form (the dict fastavro and
`databus.avro_reader` decode to: dates, datetimes, UUIDs, enum symbols), and
`compile_datum_field_writer` writes each field of a datum separately (the sector router joins a
citizen's fields into each sector's projection).

Where it is built (`setup.py`), each of these runs the same schema in C instead
(`schemas/_avro_write.pyx`, a program from `schemas/avro_write_program.py`): the same bytes, the
same errors, in a fifth of the time; `compiled=False` keeps the generated Python writer, and a
schema the compiled writer does not take (a recursive record) keeps it too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.avro_write_program import Form, write_program

Writer = Callable[[Any, bytearray], None]

try:
    from schemas._avro_write import AvroWriter

    COMPILED = True
    """Whether the compiled writer is built (`setup.py`)."""
except ImportError:  # pragma: no cover - a tree installed without its C extension
    COMPILED = False

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICRO = timedelta(microseconds=1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SMALL = [bytes([(n << 1) ^ (n >> 63) & 0xFF]) for n in range(64)]
_pack_double = struct.Struct("<d").pack
_NO_DEFAULT = object()


def zigzag(n: int) -> bytes:
    """Avro `long`: zig-zag then base-128 varint."""
    if 0 <= n < 64:
        return _SMALL[n]
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _ONE_MICRO


def _json_micros(value: str) -> int:
    return _micros(datetime.fromisoformat(value))


def _json_days(value: str) -> int:
    return date.fromisoformat(value).toordinal() - _EPOCH_ORDINAL


class _Compiler:
    """Generates the source of one writer function per named record of a schema."""

    def __init__(self, *, json_form: bool = False, datum_form: bool = False) -> None:
        self.json_form = json_form
        """Read JSON-form dicts (keys, ISO dates and times) instead of model attributes."""
        self.datum_form = datum_form
        """Read datum-form dicts (keys; dates, datetimes, UUIDs, enum symbols as values)."""
        self.named: dict[str, Any] = {}
        self.functions: dict[str, list[str]] = {}
        self.constants: dict[str, Any] = {}
        self.counter = 0

    def const(self, value: Any) -> str:
        self.counter += 1
        name = f"_c{self.counter}"
        self.constants[name] = value
        return name

    def record(self, schema: dict[str, Any], namespace: str) -> str:
        ns = schema.get("namespace", namespace)
        fullname = f"{ns}.{schema['name']}"
        self.named[fullname] = schema
        self.named[schema["name"]] = schema
        func = "w_" + fullname.replace(".", "_")
        if func in self.functions:
            return func
        self.functions[func] = []  # reserve before recursing (recursive references)
        body = [f"def {func}(o, out):"]
        for field in schema["fields"]:
            body.append(f"    v = {self.read(field)}")
            body.extend(self.emit(field["type"], "v", ns, "    "))
        if len(body) == 1:
            body.append("    pass")
        self.functions[func] = body
        return func

    def read(self, field: dict[str, Any]) -> str:
        """The expression that reads one field of the record `o`."""
        name = field["name"]
        if not (self.json_form or self.datum_form):
            return f"o.{name}"
        default = field.get("default", _NO_DEFAULT)
        if default is _NO_DEFAULT:
            return f"o[{name!r}]"
        if isinstance(default, list | dict):  # a fresh copy is never needed: only read
            return f"o.get({name!r}) or {self.const(default)}"
        return f"o.get({name!r}, {default!r})"

    def emit(self, avro_type: Any, var: str, ns: str, ind: str) -> list[str]:
        if isinstance(avro_type, list):
            return self.union(avro_type, var, ns, ind)
        if isinstance(avro_type, str):
            if avro_type in self.named or f"{ns}.{avro_type}" in self.named:
                named = self.named.get(avro_type) or self.named[f"{ns}.{avro_type}"]
                return self.emit(named, var, ns, ind)
            return self.primitive(avro_type, var, ind)
        kind = avro_type["type"]
        logical = avro_type.get("logicalType")
        if logical == "timestamp-micros":
            micros = "_json_micros" if self.json_form else "_micros"
            return [f"{ind}out += zigzag({micros}({var}))"]
        if logical == "date":
            if self.json_form:
                return [f"{ind}out += zigzag(_json_days({var}))"]
            return [f"{ind}out += zigzag({var}.toordinal() - {_EPOCH_ORDINAL})"]
        if logical == "uuid":
            return [f"{ind}out += b'\\x48'", f"{ind}out += str({var}).encode()"]
        if kind == "record":
            func = self.record(avro_type, ns)
            return [f"{ind}{func}({var}, out)"]
        if kind == "enum":
            name = avro_type["name"]
            self.named[f"{avro_type.get('namespace', ns)}.{name}"] = avro_type
            self.named[name] = avro_type
            table = self.const({s: zigzag(i) for i, s in enumerate(avro_type["symbols"])})
            return [f"{ind}out += {table}[{var}]"]
        if kind == "array":
            item = f"i{len(ind)}"
            return [
                f"{ind}if {var}:",
                f"{ind}    out += zigzag(len({var}))",
                f"{ind}    for {item} in {var}:",
                *self.emit(avro_type["items"], item, ns, ind + "        "),
                f"{ind}out += b'\\x00'",
            ]
        if kind == "map":
            key, val = f"k{len(ind)}", f"m{len(ind)}"
            return [
                f"{ind}if {var}:",
                f"{ind}    out += zigzag(len({var}))",
                f"{ind}    for {key}, {val} in {var}.items():",
                *self.primitive("string", key, ind + "        "),
                *self.emit(avro_type["values"], val, ns, ind + "        "),
                f"{ind}out += b'\\x00'",
            ]
        return self.primitive(kind, var, ind)

    def primitive(self, kind: str, var: str, ind: str) -> list[str]:
        if kind == "string":
            return [  # a length below 64 is one byte: no call
                f"{ind}b_ = {var}.encode()",
                f"{ind}n_ = len(b_)",
                f"{ind}out += _SMALL[n_] if n_ < 64 else zigzag(n_)",
                f"{ind}out += b_",
            ]
        if kind == "bytes":
            if self.json_form:
                raise TypeError("Avro bytes have no JSON form here")
            return [f"{ind}out += zigzag(len({var}))", f"{ind}out += {var}"]
        if kind in ("long", "int"):
            return [f"{ind}out += zigzag({var})"]
        if kind == "boolean":
            return [f"{ind}out += b'\\x01' if {var} else b'\\x00'"]
        if kind in ("double", "float"):
            if kind == "float":
                raise TypeError("Avro float is not emitted by schemas.avro_gen")
            return [f"{ind}out += _pack_double({var})"]
        if kind == "null":
            return []
        raise TypeError(f"unsupported Avro type {kind!r}")

    def union(self, branches: list[Any], var: str, ns: str, ind: str) -> list[str]:
        if len(branches) == 2 and branches[0] == "null":
            return [
                f"{ind}if {var} is None:",
                f"{ind}    out += b'\\x00'",
                f"{ind}else:",
                f"{ind}    out += b'\\x02'",
                *self.emit(branches[1], var, ns, ind + "    "),
            ]
        if not all(isinstance(b, dict) and b.get("type") == "record" for b in branches):
            raise TypeError("only [null, T] unions and unions of records are supported")
        if self.json_form or self.datum_form:
            raise TypeError("a union of records has no dict form to tell its branch by")
        lines = [f"{ind}t_ = type({var}).__name__"]
        for index, branch in enumerate(branches):
            keyword = "if" if index == 0 else "elif"
            lines.append(f"{ind}{keyword} t_ == {branch['name']!r}:")
            lines.append(f"{ind}    out += {zigzag(index)!r}")
            lines.extend(self.emit(branch, var, ns, ind + "    "))
        lines.append(f"{ind}else:")
        lines.append(f"{ind}    raise TypeError('no union branch for ' + t_)")
        return lines


def compile_writer(schema: dict[str, Any], *, compiled: bool = True) -> Writer:
    """A function `(model, out: bytearray) -> None` writing the model as Avro binary."""
    return _compiled(schema, "model", compiled) or _compile(schema, _Compiler())


def compile_json_writer(schema: dict[str, Any], *, compiled: bool = True) -> Writer:
    """A function `(json_form, out: bytearray) -> None`: the record's JSON form (a dict as
    `model_dump(mode="json")` gives, absent keys meaning the schema's defaults) as Avro binary,
    the same bytes `compile_writer` writes for the model."""
    return _compiled(schema, "json", compiled) or _compile(schema, _Compiler(json_form=True))


def compile_datum_writer(schema: dict[str, Any], *, compiled: bool = True) -> Writer:
    """A function `(datum, out: bytearray) -> None`: the record's datum form (the dict
    `fastavro.schemaless_reader` returns; absent keys meaning the schema's defaults) as Avro
    binary, the same bytes `compile_writer` writes for the equal model."""
    return _compiled(schema, "datum", compiled) or _compile(schema, _Compiler(datum_form=True))


_HELPERS: dict[str, Callable[..., Any]] = {
    "zigzag": zigzag,
    "_micros": _micros,
    "_json_micros": _json_micros,
    "_json_days": _json_days,
}
"""The generated writer's helpers, which the compiled one calls for the values it leaves to
them (beyond 64 bits, not in UTC, JSON text)."""


def _compiled(schema: dict[str, Any], form: Form, wanted: bool) -> Writer | None:
    """The compiled writer of `schema` in `form`, if wanted, built and able to take it."""
    if not (wanted and COMPILED):
        return None
    try:
        program = write_program(schema, form)
    except (TypeError, KeyError):
        return None
    writer: Writer = AvroWriter(program, form, _HELPERS)
    return writer


FieldWriter = Callable[[Any], list[bytes]]


def compile_datum_field_writer(schema: dict[str, Any], *, compiled: bool = True) -> FieldWriter:
    """A function `(datum) -> list[bytes]`: the Avro binary of each field of the record's datum
    form, in schema order (their concatenation is what `compile_datum_writer` writes)."""
    fields = _compiled_fields(schema) if compiled and COMPILED else None
    if fields is not None:
        return fields
    compiler = _Compiler(datum_form=True)
    ns = schema.get("namespace", "")
    body = ["def fields_(o):", "    r = []"]
    for field in schema["fields"]:
        body.append("    out = bytearray()")
        body.append(f"    v = {compiler.read(field)}")
        body.extend(compiler.emit(field["type"], "v", ns, "    "))
        body.append("    r.append(bytes(out))")
    body.append("    return r")
    compiler.functions["fields_"] = body
    field_writer: FieldWriter = _load(schema, compiler, "fields_")
    return field_writer


def _compiled_fields(schema: dict[str, Any]) -> FieldWriter | None:
    """`compile_datum_field_writer` in C."""
    try:
        program = write_program(schema, "datum")
    except (TypeError, KeyError):
        return None
    fields: FieldWriter = AvroWriter(program, "datum", _HELPERS).field_parts
    return fields


def _compile(schema: dict[str, Any], compiler: _Compiler) -> Writer:
    entry = compiler.record(schema, schema.get("namespace", ""))
    writer: Writer = _load(schema, compiler, entry)
    return writer


def _load(schema: dict[str, Any], compiler: _Compiler, entry: str) -> Any:
    source = "\n\n".join("\n".join(lines) for lines in compiler.functions.values())
    namespace: dict[str, Any] = {
        "zigzag": zigzag,
        "_SMALL": _SMALL,
        "_micros": _micros,
        "_json_micros": _json_micros,
        "_json_days": _json_days,
        "_pack_double": _pack_double,
        **compiler.constants,
    }
    form = "json " if compiler.json_form else "datum " if compiler.datum_form else ""
    exec(compile(source, f"<avro {form}writer {schema['name']}>", "exec"), namespace)
    return namespace[entry]


def encode(writer: Writer, model: Any) -> bytes:
    """Avro binary of `model` with a compiled writer."""
    out = bytearray()
    writer(model, out)
    return bytes(out)
