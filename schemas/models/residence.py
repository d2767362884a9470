"""Residence events (Ministry of Public Security, cư trú): registrations, deregistrations, moves."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import model_validator

from schemas.models.base import NAMESPACE_ROOT, Contract, field
from schemas.models.common import Address
from schemas.models.envelope import Event
from schemas.models.types import CountryCode, PastDate, raise_first

NS = f"{NAMESPACE_ROOT}.residence"


class PermanentResidenceRegistered(Contract):
    """Permanent residence registered (đăng ký thường trú), in a household."""

    avro_namespace = NS
    address: Address = field("The permanent residence.", "personal")
    household_id: str = field("Household (hộ gia đình) id.", "identifier", max_length=40)
    relation_to_head: str = field(
        "Relation to the head of household (e.g. CHU_HO, CON).", "personal", max_length=40
    )
    registered_on: PastDate = field("Date of registration.")

    @model_validator(mode="after")
    def _scheme_in_force(self) -> PermanentResidenceRegistered:
        _check_scheme(self.address, self.registered_on)
        return self


class TemporaryResidenceRegistered(Contract):
    """Temporary residence registered (đăng ký tạm trú)."""

    avro_namespace = NS
    address: Address = field("The temporary residence.", "personal")
    registered_on: PastDate = field("Date of registration.")
    valid_until: date | None = field("End of the registered stay, if limited.", default=None)

    @model_validator(mode="after")
    def _scheme_in_force(self) -> TemporaryResidenceRegistered:
        _check_scheme(self.address, self.registered_on)
        return self


def _check_scheme(address: Address, on: date) -> None:
    """The address must use the administrative-unit scheme in force on the registration date."""
    raise_first(address.unit.issues("address.unit", as_of=on), at_subfield=True)


class ResidenceKind(StrEnum):
    """Which residence a deregistration removes."""

    PERMANENT = "PERMANENT"
    TEMPORARY = "TEMPORARY"


class ResidenceDeregistered(Contract):
    """A residence registration was removed (xóa đăng ký thường trú / tạm trú)."""

    avro_namespace = NS
    residence_kind: ResidenceKind = field("Which registration was removed.")
    deregistered_on: PastDate = field("Date of removal.")
    reason: str = field("Legal ground for the removal (code).", max_length=60)


class Emigrated(Contract):
    """The citizen settled abroad (định cư ở nước ngoài)."""

    avro_namespace = NS
    destination_country: CountryCode = field("Country of settlement.", "personal")
    departed_on: PastDate = field("Date of departure.", "personal")


class ResidenceEvent(Event):
    """Base of the events on `residence.events.v1`."""

    domain: ClassVar[str] = "residence"
    avro_namespace = NS


class PermanentResidenceRegisteredEvent(ResidenceEvent):
    """Envelope + PermanentResidenceRegistered."""

    event_type: Literal["PermanentResidenceRegistered"] = "PermanentResidenceRegistered"
    payload: PermanentResidenceRegistered


class TemporaryResidenceRegisteredEvent(ResidenceEvent):
    """Envelope + TemporaryResidenceRegistered."""

    event_type: Literal["TemporaryResidenceRegistered"] = "TemporaryResidenceRegistered"
    payload: TemporaryResidenceRegistered


class ResidenceDeregisteredEvent(ResidenceEvent):
    """Envelope + ResidenceDeregistered."""

    event_type: Literal["ResidenceDeregistered"] = "ResidenceDeregistered"
    payload: ResidenceDeregistered


class EmigratedEvent(ResidenceEvent):
    """Envelope + Emigrated."""

    event_type: Literal["Emigrated"] = "Emigrated"
    payload: Emigrated


RESIDENCE_EVENTS = (
    PermanentResidenceRegisteredEvent,
    TemporaryResidenceRegisteredEvent,
    ResidenceDeregisteredEvent,
    EmigratedEvent,
)
