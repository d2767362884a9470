"""Compiled Avro readers: Avro binary straight to the datum fastavro would return.

fastavro's reader interprets the schema for every value: on a SectorProjection (some sixty
fields, mostly optional) that costs about 30 µs. For a writer schema we generate (once) Python
functions, one per named record, that read the fields in order with the common cases inlined
(one-byte varints and lengths, `["null", T]` unions): about 17 µs. The result equals
`fastavro.schemaless_reader(body, schema, None)` (a unit test holds the two together):
`date` as `datetime.date`, `timestamp-millis`/`-micros` as UTC datetimes, `uuid` as
`uuid.UUID`, enums as their symbol. A schema using anything else (another logical type, named
type references across schemas) gets no compiled reader (`compile_reader` returns None) and is
read by fastavro. Truncated input raises EOFError; invalid union or enum indexes, negative
lengths and bad UTF-8 raise ValueError (UnicodeDecodeError). Trailing bytes are ignored, as
fastavro ignores them.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from databus.avro_codegen import SchemaCompiler, UnsupportedSchemaError
from databus.avro_read_program import read_program

try:
    from databus._avro_read import AvroReader

    COMPILED = True
    """Whether the compiled reader is built (`setup.py`)."""
except ImportError:  # pragma: no cover - a tree installed without its C extension
    COMPILED = False

Reader = Callable[[bytes], dict[str, Any]]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _long(b: bytes, p: int) -> tuple[int, int]:
    """The varint (zig-zag long) at b[p], and the position after it."""
    n = shift = 0
    while True:
        c = b[p]
        p += 1
        n |= (c & 0x7F) << shift
        if not c & 0x80:
            return (n >> 1) ^ -(n & 1), p
        shift += 7


def _length(b: bytes, p: int) -> tuple[int, int]:
    """A length (a long that must not be negative) at b[p], and the position after it."""
    n, p = _long(b, p)
    if n < 0:
        raise ValueError("negative length")
    return n, p


READER_GLOBALS: dict[str, Any] = {
    "_long": _long,
    "_length": _length,
    "_fromordinal": date.fromordinal,
    "_EPOCH": _EPOCH,
    "_td": timedelta,
    "_UUID": UUID,
    "_float": struct.Struct("<f").unpack_from,
    "_double": struct.Struct("<d").unpack_from,
}


class ReaderCompiler(SchemaCompiler):
    """Generates one reader function per named record of a schema (subclassed by generators
    that read Avro into another form, e.g. `consumers.sink.transcode`)."""

    def __init__(self) -> None:
        super().__init__()
        self.constants: dict[str, Any] = {}

    def const(self, value: Any) -> str:
        name = self.fresh("_c")
        self.constants[name] = value
        return name

    def record(self, schema: dict[str, Any], namespace: str) -> str:
        fullname = self.fullname(schema, namespace)
        func = "r_" + fullname.replace(".", "_")
        if fullname in self.named:
            return func
        self.named[fullname] = schema
        ns = fullname.rpartition(".")[0]
        body = [f"def {func}(b, p):"]
        names = []
        for field in schema["fields"]:
            var = self.fresh("f")
            body.extend(self.read(field["type"], var, ns, "    "))
            names.append((str(field["name"]), var))
        items = ", ".join(f"{name!r}: {var}" for name, var in names)
        body.append(f"    return {{{items}}}, p")
        self.functions[func] = body
        return func

    def long(self, var: str, ind: str) -> list[str]:
        return [
            f"{ind}{var} = b[p]",
            f"{ind}if {var} & 0x80:",
            f"{ind}    {var}, p = _long(b, p)",
            f"{ind}else:",
            f"{ind}    {var} = ({var} >> 1) ^ -({var} & 1)",
            f"{ind}    p += 1",
        ]

    def length(self, var: str, ind: str) -> list[str]:
        # one byte with an even zig-zag value is a length below 64
        return [
            f"{ind}{var} = b[p]",
            f"{ind}if {var} & 0x81:",
            f"{ind}    {var}, p = _length(b, p)",
            f"{ind}else:",
            f"{ind}    {var} >>= 1",
            f"{ind}    p += 1",
        ]

    def read(self, avro_type: Any, var: str, ns: str, ind: str) -> list[str]:
        """Statements that read one value of `avro_type` at b[p:] into `var`."""
        if isinstance(avro_type, list):
            return self.union(avro_type, var, ns, ind)
        if isinstance(avro_type, str):
            if avro_type in PRIMITIVES:
                return self.primitive(avro_type, var, ind)
            return self.read(self.resolve(avro_type, ns), var, ns, ind)
        kind = avro_type["type"]
        logical = avro_type.get("logicalType")
        if logical is not None:
            return self.logical(kind, logical, var, ind)
        if kind == "record":
            func = self.record(avro_type, ns)
            return [f"{ind}{var}, p = {func}(b, p)"]
        if kind == "enum":
            fullname = self.fullname(avro_type, ns)
            self.named.setdefault(fullname, avro_type)
            symbols = self.const(tuple(avro_type["symbols"]))
            return [
                *self.long(var, ind),
                f"{ind}if not 0 <= {var} < {len(avro_type['symbols'])}:",
                f"{ind}    raise ValueError('enum index out of range')",
                f"{ind}{var} = {symbols}[{var}]",
            ]
        if kind == "fixed":
            fullname = self.fullname(avro_type, ns)
            self.named.setdefault(fullname, avro_type)
            return self.take(var, str(int(avro_type["size"])), ind)
        if kind == "array":
            return self.blocks(
                var,
                ind,
                lambda item, inner: self.read(avro_type["items"], item, ns, inner),
                mapped=False,
            )
        if kind == "map":
            return self.blocks(
                var,
                ind,
                lambda item, inner: self.read(avro_type["values"], item, ns, inner),
                mapped=True,
            )
        if kind in PRIMITIVES:
            return self.primitive(kind, var, ind)
        raise UnsupportedSchemaError(f"Avro type {kind!r}")

    def blocks(
        self, var: str, ind: str, item_reader: Callable[[str, str], list[str]], *, mapped: bool
    ) -> list[str]:
        count, size, item, key = self.fresh("n"), self.fresh("s"), self.fresh("x"), self.fresh("k")
        inner = ind + "        "
        lines = [f"{ind}{var} = {{}}" if mapped else f"{ind}{var} = []", *self.long(count, ind)]
        lines.append(f"{ind}while {count}:")
        lines.append(f"{ind}    if {count} < 0:")
        lines.append(f"{ind}        {count} = -{count}")
        lines.extend(self.long(size, ind + "        "))
        lines.append(f"{ind}    for _ in range({count}):")
        if mapped:
            lines.extend(self.primitive("string", key, inner))
        lines.extend(item_reader(item, inner))
        if mapped:
            lines.append(f"{inner}{var}[{key}] = {item}")
        else:
            lines.append(f"{inner}{var}.append({item})")
        lines.extend(self.long(count, ind + "    "))
        return lines

    def take(self, var: str, size: str, ind: str) -> list[str]:
        """`size` raw bytes into `var` (a read past the end is caught by `read`'s final check:
        positions only grow)."""
        end = self.fresh("e")
        return [f"{ind}{end} = p + {size}", f"{ind}{var} = b[p:{end}]", f"{ind}p = {end}"]

    def primitive(self, kind: str, var: str, ind: str) -> list[str]:
        if kind == "null":
            return [f"{ind}{var} = None"]
        if kind in ("int", "long"):
            return self.long(var, ind)
        if kind == "boolean":
            return [f"{ind}{var} = b[p] == 1", f"{ind}p += 1"]
        if kind == "bytes":
            return [*self.length(var, ind), *self.take(var, var, ind)]
        if kind == "string":  # checked here: a cut multi-byte character fails to decode first
            end = self.fresh("e")
            return [
                *self.length(var, ind),
                f"{ind}{end} = p + {var}",
                f"{ind}if {end} > len(b):",
                f"{ind}    raise EOFError('truncated')",
                f"{ind}{var} = b[p:{end}].decode()",
                f"{ind}p = {end}",
            ]
        if kind in ("float", "double"):
            size = 4 if kind == "float" else 8
            return [f"{ind}{var} = _{kind}(b, p)[0]", f"{ind}p += {size}"]
        raise UnsupportedSchemaError(f"Avro type {kind!r}")

    def logical(self, kind: str, logical: str, var: str, ind: str) -> list[str]:
        convert = {
            ("int", "date"): f"_fromordinal({var} + {_EPOCH_ORDINAL})",
            ("long", "timestamp-micros"): f"_EPOCH + _td(microseconds={var})",
            ("long", "timestamp-millis"): f"_EPOCH + _td(milliseconds={var})",
            ("string", "uuid"): f"_UUID({var})",
        }.get((kind, logical))
        if convert is None:
            raise UnsupportedSchemaError(f"logical type {logical!r} on {kind!r}")
        return [*self.primitive(kind, var, ind), f"{ind}{var} = {convert}"]

    def union(self, branches: list[Any], var: str, ns: str, ind: str) -> list[str]:
        if len(branches) > 64:
            raise UnsupportedSchemaError("a union of more than 64 branches")
        index = self.fresh("u")
        # an index below 64 is one byte, its zig-zag value 2 * index: compare the byte
        lines = [f"{ind}{index} = b[p]", f"{ind}p += 1"]
        for number, branch in enumerate(branches):
            keyword = "if" if number == 0 else "elif"
            lines.append(f"{ind}{keyword} {index} == {2 * number}:")
            lines.extend(self.read(branch, var, ns, ind + "    "))
        lines.append(f"{ind}else:")
        lines.append(f"{ind}    raise ValueError('union index out of range')")
        return lines


def compile_reader(schema: dict[str, Any] | str, *, compiled: bool = True) -> Reader | None:
    """A function reading an Avro body written with record schema `schema` (its dict or JSON
    text) into the datum fastavro returns; None if the schema is not one this module reads.
    Where it is built (`setup.py`) and `compiled`, the reader runs in C
    (`databus/_avro_read.pyx`): the same datum, the same refusals, in about a fifth of the
    time (a varint longer than 64 bits, not Avro, is refused where Python reads a big int)."""
    parsed = json.loads(schema) if isinstance(schema, str) else schema
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        return None
    if compiled and COMPILED:
        try:
            reader: Reader = AvroReader(read_program(parsed))
            return reader
        except (UnsupportedSchemaError, KeyError, TypeError, ValueError):
            pass  # the generated Python reader below
    compiler = ReaderCompiler()
    try:
        top = compiler.record(parsed, "")
    except (UnsupportedSchemaError, KeyError, TypeError, ValueError):
        return None
    return build_reader(compiler, top, str(parsed.get("name")))


def build_reader(compiler: ReaderCompiler, top: str, name: str) -> Callable[[bytes], Any]:
    """The reader of `compiler`'s generated source whose top record function is `top`:
    truncated input raises EOFError."""
    source = "\n\n".join("\n".join(lines) for lines in compiler.functions.values())
    namespace: dict[str, Any] = {**READER_GLOBALS, **compiler.constants}
    exec(compile(source, f"<avro reader {name}>", "exec"), namespace)
    record: Callable[[bytes, int], tuple[Any, int]] = namespace[top]

    def read(body: bytes) -> Any:
        try:
            datum, end = record(body, 0)
        except (IndexError, struct.error):  # a varint, index or number read past the end
            raise EOFError("the Avro body is truncated") from None
        if end > len(body):  # a string, bytes or fixed value cut short
            raise EOFError("the Avro body is truncated")
        return datum

    return read
