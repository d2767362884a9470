"""The sector router's trusted fast path: population changes projected in datum form.

`databus.projection` is the reference: it takes a validated `PopulationChange` model and builds
`SectorProjection` and `DataUsage` models, which the encoders write. That costs some 400 µs
per change, nearly all of it pydantic (validating the change, dumping the citizen, validating
each sector's projection and usage record). Here the same releases are computed on the change's
Avro datum (the dict `Decoder.decode_datum` returns) and written straight to Avro bodies; the
bytes are exactly those of the model path (tests/unit/test_projection_datum.py holds the two
together).

What this trusts, and why: `population.changes.v1` is written only by the bus's own population
sync (through its outbox relay; the ACLs let no other principal write it), from citizens it
built out of events validated against the contracts and the domain rules at the edge. The
router still decodes every value against its registered schema (structure, types, enum symbols
are checked by the Avro reader), but does not run the domain rules again (PIN check digits,
name normalisation, dates not in the future, unit codes). What the fast path itself relies on
is checked, and a change that fails it is handed back (`UntrustedChangeError`, naming the
field, never the value) so that the caller takes the model path, which validates it and
dead-letters it as before:

- the value was written with the very schema this module was built for (`same_schema`: a
  later or earlier version of the schema goes the model path, which knows its defaults);
- `version` is at least 1 (the output contracts require it).

The shape of `SectorProjection` and `DataUsage` is written out by hand around the citizen's
fields; `_check_schemas` fails at import if those schemas no longer have the fields in the
order written here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databus.projection import EMPTY, ENTERING_EVENTS, USAGE_NAMESPACE
from databus.topology.model import Sector
from schemas.avro_files import schema_dict
from schemas.avro_writer import _SMALL, _micros, compile_datum_field_writer, zigzag

CHANGE_SCHEMA = "PopulationChange"
_PROJECTION_FIELDS = [
    "pin",
    "sector",
    "version",
    "released_fields",
    "deceased",
    "citizen",
    "emitted_at",
]
_USAGE_FIELDS = [
    "usage_id",
    "pin",
    "sector",
    "agency",
    "fields_released",
    "legal_basis",
    "citizen_version",
    "event_id",
    "released_at",
    "purpose",
    "outcome",
]


class UntrustedChangeError(ValueError):
    """A change the fast path does not take (the model path must): names the field only."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


_NAMESPACE_BYTES = USAGE_NAMESPACE.bytes


def _usage_id(key: str) -> bytes:
    """`str(databus.projection.usage_id(...)).encode()` for `key` = "<sector>/<pin>/<version>",
    without building UUID objects (uuid5: SHA-1, version 5, RFC 4122 variant)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + key.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode()


def _string(value: str) -> bytes:
    data = value.encode()
    size = len(data)
    return (_SMALL[size] if size < 64 else zigzag(size)) + data


def _strings(values: list[str]) -> bytes:
    if not values:
        return b"\x00"
    return zigzag(len(values)) + b"".join(_string(v) for v in values) + b"\x00"


def _structure(schema: Any) -> Any:
    """A schema without its documentation (what decides the shape of a datum)."""
    if isinstance(schema, dict):
        return {k: _structure(v) for k, v in schema.items() if k not in ("doc", "sensitivity")}
    if isinstance(schema, list):
        return [_structure(v) for v in schema]
    return schema


def _check_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    projection, usage = schema_dict("SectorProjection"), schema_dict("DataUsage")
    if [f["name"] for f in projection["fields"]] != _PROJECTION_FIELDS:
        raise RuntimeError("SectorProjection's fields changed: update databus.projection_datum")
    if [f["name"] for f in usage["fields"]] != _USAGE_FIELDS:
        raise RuntimeError("DataUsage's fields changed: update databus.projection_datum")
    purpose = usage["fields"][9]["type"]
    if purpose["symbols"][0] != "RELEASE" or usage["fields"][10]["type"][0] != "null":
        raise RuntimeError("DataUsage's purpose or outcome changed: update the fast path")
    return projection, usage


_PROJECTION_SCHEMA, _USAGE_SCHEMA = _check_schemas()
_CITIZEN_PROJECTION = _PROJECTION_SCHEMA["fields"][5]["type"]
CITIZEN_FIELDS: tuple[str, ...] = tuple(f["name"] for f in _CITIZEN_PROJECTION["fields"])
_citizen_fields = compile_datum_field_writer(_CITIZEN_PROJECTION)
_CHANGE_STRUCTURE = _structure(schema_dict(CHANGE_SCHEMA))
_USAGE_TAIL = b"\x00\x00"  # purpose RELEASE (symbol 0), outcome null
_UUID_PREFIX = zigzag(36)


def same_schema(schema_str: str) -> bool:
    """Whether a registered writer schema of `population.changes.v1` is the one the fast path
    was built for (documentation aside): only its values are projected in datum form."""
    try:
        return bool(_structure(json.loads(schema_str)) == _CHANGE_STRUCTURE)
    except ValueError:
        return False


@dataclass(frozen=True)
class _SectorPlan:
    name: str
    allowed: frozenset[str]
    ordered: tuple[str, ...]
    """The allowed fields, sorted (released_fields is sorted)."""
    mask: tuple[bool, ...]
    """For each CitizenProjection field in schema order: whether the sector may see it."""
    name_bytes: bytes
    agency_bytes: bytes
    legal_basis_bytes: bytes


@dataclass(frozen=True)
class DatumRelease:
    """One sector's release of one change: the Avro bodies (no framing) of both records."""

    sector: str
    projection: bytes
    usage: bytes


class DatumProjector:
    """`databus.projection.releases` on change datums, writing Avro bodies."""

    def __init__(self, sectors: Mapping[str, Sector]) -> None:
        self.plans = [
            _SectorPlan(
                name=name,
                allowed=frozenset(sector.allowed_fields),
                ordered=tuple(sorted(set(sector.allowed_fields))),
                mask=tuple(f in sector.allowed_fields for f in CITIZEN_FIELDS),
                name_bytes=_string(name),
                agency_bytes=_string(sector.agency),
                legal_basis_bytes=_strings([str(basis) for basis in sector.legal_basis]),
            )
            for name, sector in sectors.items()
        ]

    @staticmethod
    def check(change: Mapping[str, Any]) -> None:
        """`UntrustedChangeError` (naming the field) if the fast path does not take the change."""
        if change["version"] < 1:
            raise UntrustedChangeError("version", "below 1")

    def releases(self, change: Mapping[str, Any], now: datetime) -> list[DatumRelease]:
        """Every sector's release of one change datum (sectors that see nothing left out), or
        `UntrustedChangeError` if the change is not one the fast path takes."""
        self.check(change)
        version = change["version"]
        citizen = change["citizen"]
        entering = version == 1 or change["event_type"] in ENTERING_EVENTS
        changed = None if entering else frozenset(change["changed_fields"])
        chunks: list[bytes] | None = None
        out: list[DatumRelease] = []
        for plan in self.plans:
            if changed is None:
                fields = [f for f in plan.ordered if citizen[f] not in EMPTY]
            else:
                fields = [f for f in plan.ordered if f in changed]
            if not fields:
                continue
            if chunks is None:
                pin = _string(change["pin"])
                version_bytes = zigzag(version)
                stamp = zigzag(_micros(now))
                deceased = b"\x01" if citizen["date_of_death"] is not None else b"\x00"
                event_id = b"\x02" + _UUID_PREFIX + str(change["event_id"]).encode()
                chunks = _citizen_fields(citizen)
            released = _strings(fields)
            projected = b"".join(
                [c if m else b"\x00" for c, m in zip(chunks, plan.mask, strict=True)]
            )
            usage_id = _usage_id(f"{plan.name}/{change['pin']}/{version}")
            out.append(
                DatumRelease(
                    plan.name,
                    b"".join(
                        (pin, plan.name_bytes, version_bytes, released, deceased, projected, stamp)
                    ),
                    b"".join(
                        (
                            _UUID_PREFIX,
                            usage_id,
                            pin,
                            plan.name_bytes,
                            plan.agency_bytes,
                            released,
                            plan.legal_basis_bytes,
                            version_bytes,
                            event_id,
                            stamp,
                            _USAGE_TAIL,
                        )
                    ),
                )
            )
        return out
