"""Lawful projections: what each sector may see of a population change, and the usage record.

A sector receives a change only when one of its allowed fields changed, or when the citizen
enters its population (the citizen's first version, or a PIN re-established: the sector learns
the new key). The projection carries the allowed fields only; every other field is empty. Each
release produces one DataUsage record; its id is derived from (sector, PIN, version), so a
repeated release (the router is at-least-once) records the same usage, not a second one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from databus.topology.model import Sector
from schemas.models.citizen import CitizenProjection
from schemas.models.downstream import DataUsage, PopulationChange, SectorProjection

USAGE_NAMESPACE = uuid.UUID("6f0c1f7e-3c1d-5b7a-9a61-0d2f3b7f6e06")
ENTERING_EVENTS = frozenset({"BirthRegistered", "PinReestablished"})


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
        return sorted(f for f in allowed if citizen.get(f) not in (None, [], ""))
    return sorted(allowed.intersection(change.changed_fields))


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
    usage = DataUsage(
        usage_id=uuid.uuid5(USAGE_NAMESPACE, f"{name}/{change.pin}/{change.version}"),
        pin=change.pin,
        sector=name,
        agency=sector.agency,
        fields_released=fields,
        legal_basis=[str(basis) for basis in sector.legal_basis],
        citizen_version=change.version,
        event_id=change.event_id,
        released_at=now,
    )
    return Release(name, projection, usage)


def releases(sectors: dict[str, Sector], change: PopulationChange, now: datetime) -> list[Release]:
    """Every sector's release of one change (sectors that see nothing are left out)."""
    out = []
    for name, sector in sectors.items():
        release = project(name, sector, change, now)
        if release is not None:
            out.append(release)
    return out
