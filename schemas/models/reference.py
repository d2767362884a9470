"""Reference data events: administrative unit reorganisations (e.g. VN-63 to VN-34, 2025)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from schemas.models.base import NAMESPACE_ROOT, Contract, field
from schemas.models.envelope import Event
from schemas.models.types import Pin

NS = f"{NAMESPACE_ROOT}.reference"


class UnitMapping(Contract):
    """Where one old unit went: old codes under the old scheme, new codes under the new one."""

    avro_namespace = NS
    from_province: str = field("Old province code.")
    from_district: str | None = field(
        "Old district code, if the mapping is per district.", default=None
    )
    from_commune: str | None = field(
        "Old commune code, if the mapping is per commune.", default=None
    )
    to_province: str = field("New province code.")
    to_commune: str | None = field("New commune code, if the mapping is per commune.", default=None)


class AdministrativeUnitsReorganized(Contract):
    """Administrative units were merged, split or renamed under a new coding scheme."""

    avro_namespace = NS
    from_scheme: str = field("Scheme of the old codes (e.g. VN-63).")
    to_scheme: str = field("Scheme of the new codes (e.g. VN-34).")
    effective_on: date = field("Date from which the new units apply.")
    legal_instrument: str = field("Resolution or decision that made the change.", max_length=200)
    mappings: list[UnitMapping] = field("Old unit to new unit mappings.", min_length=1)


class ReferenceEvent(Event):
    """Base of the events on `reference.events.v1`; they are about no citizen."""

    domain: ClassVar[str] = "reference"
    avro_namespace = NS
    subject_pin: Pin | None = field(  # type: ignore[assignment]
        "Always empty: reference data has no citizen subject.", "identifier", default=None
    )


class AdministrativeUnitsReorganizedEvent(ReferenceEvent):
    """Envelope + AdministrativeUnitsReorganized."""

    event_type: Literal["AdministrativeUnitsReorganized"] = "AdministrativeUnitsReorganized"
    payload: AdministrativeUnitsReorganized


REFERENCE_EVENTS = (AdministrativeUnitsReorganizedEvent,)
