"""Which record each kind of topic carries: event domains and the bus's own records."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.models.base import Contract
from schemas.models.citizen import Citizen
from schemas.models.civil_status import CIVIL_STATUS_EVENTS, CivilStatusEvent
from schemas.models.downstream import (
    ConnectionStatusChanged,
    DataUsage,
    DeadLetter,
    Heartbeat,
    PopulationChange,
    SectorProjection,
    VerificationRequest,
    VerificationResult,
)
from schemas.models.envelope import Event
from schemas.models.identity import IDENTITY_EVENTS, IdentityEvent
from schemas.models.reference import REFERENCE_EVENTS, ReferenceEvent
from schemas.models.residence import RESIDENCE_EVENTS, ResidenceEvent


@dataclass(frozen=True)
class EventDomain:
    """The events one source topic carries, under one Avro record."""

    name: str
    base: type[Event]
    events: tuple[type[Event], ...]

    @property
    def record_name(self) -> str:
        return self.base.__name__

    def event_class(self, event_type: str) -> type[Event] | None:
        """The model of `event_type` in this domain, or None."""
        return _BY_TYPE.get(event_type) if _BY_TYPE.get(event_type) in self.events else None


EVENT_DOMAINS: dict[str, EventDomain] = {
    d.name: d
    for d in (
        EventDomain("civil-status", CivilStatusEvent, CIVIL_STATUS_EVENTS),
        EventDomain("residence", ResidenceEvent, RESIDENCE_EVENTS),
        EventDomain("identity", IdentityEvent, IDENTITY_EVENTS),
        EventDomain("reference", ReferenceEvent, REFERENCE_EVENTS),
    )
}

EVENT_CLASSES: dict[str, type[Event]] = {
    cls.model_fields["event_type"].default: cls
    for domain in EVENT_DOMAINS.values()
    for cls in domain.events
}
_BY_TYPE = EVENT_CLASSES

RECORDS: tuple[type[Contract], ...] = (
    Citizen,
    PopulationChange,
    SectorProjection,
    VerificationRequest,
    VerificationResult,
    DeadLetter,
    DataUsage,
    Heartbeat,
    ConnectionStatusChanged,
)
"""Records the bus produces itself, one per topic kind."""
