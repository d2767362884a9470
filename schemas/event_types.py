"""Names of the change events source agencies publish, and their domain (DESIGN.md §4).

The topology may only route event types listed here; each Avro schema under `schemas/avro/` is
named after one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Domain = Literal["civil-status", "residence", "identity", "reference"]
"""Domain an event type belongs to; one source topic carries one domain."""

DOMAINS: Final[tuple[Domain, ...]] = ("civil-status", "residence", "identity", "reference")


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of change event."""

    name: str
    domain: Domain
    description: str


EVENT_TYPES: Final[tuple[EventType, ...]] = (
    # Civil status (hộ tịch), Ministry of Justice.
    EventType("BirthRegistered", "civil-status", "A birth was registered (đăng ký khai sinh)"),
    EventType("DeathRegistered", "civil-status", "A death was registered (đăng ký khai tử)"),
    EventType("MarriageRegistered", "civil-status", "A marriage was registered (đăng ký kết hôn)"),
    EventType("MarriageDissolved", "civil-status", "A marriage ended by divorce or annulment"),
    EventType(
        "CivilStatusChanged",
        "civil-status",
        "Name, sex, ethnicity or nationality changed or corrected (thay đổi, cải chính)",
    ),
    # Residence (cư trú), Ministry of Public Security.
    EventType(
        "PermanentResidenceRegistered",
        "residence",
        "Permanent residence registered (đăng ký thường trú)",
    ),
    EventType(
        "TemporaryResidenceRegistered",
        "residence",
        "Temporary residence registered (đăng ký tạm trú)",
    ),
    EventType(
        "ResidenceDeregistered",
        "residence",
        "Permanent or temporary residence removed (xóa đăng ký)",
    ),
    EventType("Emigrated", "residence", "The citizen settled abroad"),
    # Identity (định danh), Ministry of Public Security.
    EventType("PinIssued", "identity", "A personal identification number was issued"),
    EventType("PinReestablished", "identity", "A new PIN replaced an old one (xác lập lại)"),
    EventType("IdentityCardIssued", "identity", "An identity card was issued or renewed"),
    # Reference data.
    EventType(
        "AdministrativeUnitsReorganized",
        "reference",
        "Administrative units were merged, split or renamed (new scheme version)",
    ),
)
"""Every source event type."""

EVENT_TYPES_BY_NAME: Final[dict[str, EventType]] = {e.name: e for e in EVENT_TYPES}
"""Event types by name."""

EVENT_TYPE_NAMES: Final[frozenset[str]] = frozenset(EVENT_TYPES_BY_NAME)
"""The set of valid event type names."""


def event_type(name: str) -> EventType:
    """Return the event type called `name`; raise `KeyError` naming it if there is none."""
    try:
        return EVENT_TYPES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown event type {name!r}") from None


def event_types_of(domain: Domain) -> tuple[EventType, ...]:
    """Return the event types of one domain, in declaration order."""
    return tuple(e for e in EVENT_TYPES if e.domain == domain)
