"""The stored JSON of a projection, written straight from the validated model.

A sector row's `record` is `json.dumps` of the projection's JSON form (`model_dump(mode=
"json")`) without its empty top-level fields (None, []), keys sorted, non-ASCII kept
(`store.to_row`). The reconciler hashes that text, so every writer must produce it byte for
byte. Dumping the model to a dict and encoding the dict costs some 20 µs per citizen (a
social-insurance projection); so for a record schema we generate (once) a function that reads
the model's attributes in sorted key order and joins the JSON text directly (strings escaped by
the json module's own encoder, dates in ISO form, enums by value): about 12 µs. A unit test
holds it equal to `to_row` on generated citizens of every sector. Schemas using a type it does
not write (floats, maps, bytes, unions other than `["null", T]`) get no function
(`compile_record_json` returns None) and are stored through `to_row`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from databus.avro_codegen import SchemaCompiler, UnsupportedSchemaError
from schemas.models.base import Contract

RecordJson = Callable[[Contract], str]

_encode_string: Callable[[str], str] = json.encoder.encode_basestring


class JsonEmission(SchemaCompiler):
    """Generated statements that turn a value of an Avro type into its stored JSON text (shared
    with `transcode.py`, which reads the values from Avro instead of a model); a subclass says
    how a record value becomes text (`record_text`) and resolves named types."""

    def record_text(self, avro_type: dict[str, Any], var: str, ns: str) -> str:
        """An expression giving the JSON text of `var`, a value of record `avro_type`."""
        raise NotImplementedError

    def is_array(self, avro_type: Any, ns: str) -> bool:
        """Whether values of `avro_type` are lists (or None)."""
        if isinstance(avro_type, list):
            return any(self.is_array(branch, ns) for branch in avro_type)
        return isinstance(avro_type, dict) and avro_type.get("type") == "array"

    def value(self, avro_type: Any, var: str, out: str, ns: str, ind: str) -> list[str]:
        """Statements setting `out` to the JSON text of `var`, a value of `avro_type`."""
        if isinstance(avro_type, list):
            if len(avro_type) != 2 or avro_type[0] != "null":
                raise UnsupportedSchemaError("only [null, T] unions")
            return [
                f"{ind}if {var} is None:",
                f"{ind}    {out} = 'null'",
                f"{ind}else:",
                *self.value(avro_type[1], var, out, ns, ind + "    "),
            ]
        if isinstance(avro_type, str):
            if avro_type in ("string", "int", "long", "boolean", "null"):
                return self.json_primitive(avro_type, var, out, ind)
            return self.value(self.resolve(avro_type, ns), var, out, ns, ind)
        kind = avro_type["type"]
        logical = avro_type.get("logicalType")
        if logical == "date" and kind == "int":
            return [f"{ind}{out} = '\"' + {var}.isoformat() + '\"'"]
        if logical is not None:
            raise UnsupportedSchemaError(f"logical type {logical!r}")
        if kind == "record":
            return [f"{ind}{out} = {self.record_text(avro_type, var, ns)}"]
        if kind == "enum":
            self.named.setdefault(self.fullname(avro_type, ns), avro_type)
            return [f"{ind}{out} = _s({var})"]  # a StrEnum member (or a symbol) as its value
        if kind == "array":
            item, text = self.fresh("i"), self.fresh("t")
            return [
                f"{ind}{out} = []",
                f"{ind}for {item} in {var}:",
                *self.value(avro_type["items"], item, text, ns, ind + "    "),
                f"{ind}    {out}.append({text})",
                f"{ind}{out} = '[' + ', '.join({out}) + ']'",
            ]
        return self.json_primitive(str(kind), var, out, ind)

    def json_primitive(self, kind: str, var: str, out: str, ind: str) -> list[str]:
        """Statements setting `out` to the JSON text of `var`, a primitive of Avro type `kind`."""
        if kind == "string":
            return [f"{ind}{out} = _s({var})"]
        if kind in ("int", "long"):
            return [f"{ind}{out} = int.__repr__({var})"]
        if kind == "boolean":
            return [f"{ind}{out} = 'true' if {var} else 'false'"]
        if kind == "null":
            return [f"{ind}{out} = 'null'"]
        raise UnsupportedSchemaError(f"Avro type {kind!r}")


class _Compiler(JsonEmission):
    """Generates one stored-JSON writer function per named record of a schema."""

    def collect(self, avro_type: Any, namespace: str) -> None:
        """Register every named type first: fields are written in sorted order, so a type
        may be used before the field that defines it."""
        if isinstance(avro_type, list):
            for branch in avro_type:
                self.collect(branch, namespace)
        elif isinstance(avro_type, dict):
            kind = avro_type.get("type")
            if kind in ("record", "enum", "fixed"):
                fullname = self.fullname(avro_type, namespace)
                self.named[fullname] = avro_type
                namespace = fullname.rpartition(".")[0]
            for field in avro_type.get("fields", []):
                self.collect(field["type"], namespace)
            for key in ("items", "values"):
                if key in avro_type:
                    self.collect(avro_type[key], namespace)

    def record(self, schema: dict[str, Any], namespace: str, *, top: bool = False) -> str:
        """A function `(model) -> JSON text` for a record (`top`: empty fields left out)."""
        fullname = self.fullname(schema, namespace)
        func = ("top_" if top else "j_") + fullname.replace(".", "_")
        if func in self.functions:
            return func
        self.named[fullname] = schema
        self.functions[func] = []  # reserved before recursing
        ns = fullname.rpartition(".")[0]
        body = [f"def {func}(o):"]
        if top:
            body.append("    parts = []")
        members = []
        for field in sorted(schema["fields"], key=lambda f: str(f["name"])):
            name = str(field["name"])
            key = _encode_string(name) + ": "
            var, text = self.fresh("v"), self.fresh("t")
            body.append(f"    {var} = o.{name}")
            if not top:
                body.extend(self.value(field["type"], var, text, ns, "    "))
                members.append(key.replace("{", "{{").replace("}", "}}") + "{" + text + "}")
                continue
            # to_row leaves out None and [] at the top level (a list is either)
            avro_type = field["type"]
            test = var if self.is_array(avro_type, ns) else f"{var} is not None"
            if isinstance(avro_type, list) and len(avro_type) == 2 and avro_type[0] == "null":
                avro_type = avro_type[1]  # None is left out already
            body.append(f"    if {test}:")
            body.extend(self.value(avro_type, var, text, ns, "        "))
            body.append(f"        parts.append({key!r} + {text})")
        if top:
            body.append("    return '{' + ', '.join(parts) + '}'")
        else:
            body.append("    return f'{{" + ", ".join(members) + "}}'")
        self.functions[func] = body
        return func

    def record_text(self, avro_type: dict[str, Any], var: str, ns: str) -> str:
        return f"{self.record(avro_type, ns)}({var})"


def compile_record_json(schema: dict[str, Any]) -> RecordJson | None:
    """The stored-JSON writer of models of record `schema` (its Avro dict), or None."""
    compiler = _Compiler()
    try:
        compiler.collect(schema, "")
        top = compiler.record(schema, "", top=True)
    except (UnsupportedSchemaError, KeyError, TypeError):
        return None
    source = "\n\n".join("\n".join(lines) for lines in compiler.functions.values())
    namespace: dict[str, Any] = {"_s": _encode_string}
    exec(compile(source, f"<record json {schema.get('name')}>", "exec"), namespace)
    writer: RecordJson = namespace[top]
    return writer
