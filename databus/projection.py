"""Lawful projections: what each sector may see of a citizen, and the usage record of a release.

A sector receives a change only when one of its allowed fields changed, or when the citizen
enters its population (the citizen's first version, or a PIN re-established: the sector learns
the new key). The projection carries the allowed fields only; every other field is empty. Each
release produces one DataUsage record; its id is derived from (sector, PIN, version), so a
repeated release (the router is at-least-once) records the same usage, not a second one.

A snapshot (`snapshot`, `snapshot_release`: backfill, reconciliation repair) projects a
citizen's current record, with no change behind it: it releases every non-empty allowed field,
like a citizen entering the sector.

This module is pure (no I/O) and lives in the kernel because the router (streams) and the
backfill and reconciler (consumers) must project identically.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from databus.topology.model import Sector
from schemas.codec import record_from_data
from schemas.models.base import Contract
from schemas.models.citizen import Citizen, CitizenProjection
from schemas.models.downstream import DataUsage, PopulationChange, SectorProjection

USAGE_NAMESPACE = uuid.UUID("6f0c1f7e-3c1d-5b7a-9a61-0d2f3b7f6e06")
ENTERING_EVENTS = frozenset({"BirthRegistered", "PinReestablished"})
EMPTY: tuple[Any, ...] = (None, [], "")
"""Values that do not count as released."""

CITIZEN_DEFAULTS: dict[str, Any] = {
    name: (None if info.is_required() else info.get_default(call_default_factory=True))
    for name, info in Citizen.model_fields.items()
}
"""The value a Citizen field has when its record does not mention it."""


@dataclass(frozen=True)
class Release:
    """One projection for one sector, and the usage record that documents it."""

    sector: str
    projection: SectorProjection
    usage: DataUsage


def released_fields(sector: Sector, change: PopulationChange) -> list[str]:
    """The allowed fields this change releases to `sector` (empty: nothing to send)."""
    allowed = set(sector.allowed_fields)
    if change.version == 1 or change.event_type in ENTERING_EVENTS:
        citizen = change.citizen.model_dump()
        return sorted(f for f in allowed if citizen.get(f) not in EMPTY)
    return sorted(allowed.intersection(change.changed_fields))


def usage_id(name: str, pin: str, version: int) -> UUID:
    """The id of the usage record of releasing version `version` of `pin` to sector `name`."""
    return uuid.uuid5(USAGE_NAMESPACE, f"{name}/{pin}/{version}")


def usage_record(
    name: str,
    sector: Sector,
    pin: str,
    version: int,
    fields: list[str],
    event_id: UUID | None,
    now: datetime,
) -> DataUsage:
    """The DataUsage record of one release (`event_id`: the change behind it, if any)."""
    return DataUsage(
        usage_id=usage_id(name, pin, version),
        pin=pin,
        sector=name,
        agency=sector.agency,
        fields_released=fields,
        legal_basis=[str(basis) for basis in sector.legal_basis],
        citizen_version=version,
        event_id=event_id,
        released_at=now,
    )


def project(name: str, sector: Sector, change: PopulationChange, now: datetime) -> Release | None:
    """The release of `change` to sector `name`, or None when the sector sees no change."""
    fields = released_fields(sector, change)
    if not fields:
        return None
    citizen = change.citizen.model_dump()
    allowed = {f: citizen[f] for f in sector.allowed_fields}
    projection = SectorProjection(
        pin=change.pin,
        sector=name,
        version=change.version,
        released_fields=fields,
        deceased=change.citizen.date_of_death is not None,
        citizen=CitizenProjection.model_validate(allowed),
        emitted_at=now,
    )
    usage = usage_record(name, sector, change.pin, change.version, fields, change.event_id, now)
    return Release(name, projection, usage)


def releases(sectors: dict[str, Sector], change: PopulationChange, now: datetime) -> list[Release]:
    """Every sector's release of one change (sectors that see nothing are left out)."""
    out = []
    for name, sector in sectors.items():
        release = project(name, sector, change, now)
        if release is not None:
            out.append(release)
    return out


@dataclass(frozen=True)
class Snapshot:
    """What a sector may see of a citizen's current record."""

    citizen: Contract
    """The CitizenProjection: allowed fields set, every other field empty."""
    fields: list[str]
    """The non-empty allowed fields (what a release of this snapshot releases)."""
    deceased: bool


def snapshot(sector: Sector, citizen: Mapping[str, Any]) -> Snapshot:
    """Project a citizen record (the Citizen's JSON or Python form, e.g. the NPD's `record`);
    `ContractError` (naming fields and rules, never values) if it is not a valid projection."""
    values = {f: citizen.get(f, CITIZEN_DEFAULTS[f]) for f in sector.allowed_fields}
    projection = record_from_data(CitizenProjection, values)
    fields = sorted(f for f, value in values.items() if value not in EMPTY)
    return Snapshot(projection, fields, citizen.get("date_of_death") is not None)


def snapshot_release(
    name: str, sector: Sector, pin: str, version: int, view: Snapshot, now: datetime
) -> Release:
    """The release of a citizen's current record (`view`, from `snapshot`) at `version`."""
    projection = SectorProjection(
        pin=pin,
        sector=name,
        version=version,
        released_fields=view.fields,
        deceased=view.deceased,
        citizen=view.citizen,
        emitted_at=now,
    )
    usage = usage_record(name, sector, pin, version, view.fields, None, now)
    return Release(name, projection, usage)
