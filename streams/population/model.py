"""What the population sync passes around: an event to apply, its outcome, a change, a citizen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from sqlalchemy import Connection

from schemas.domain import local_date
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange
from schemas.models.envelope import Event
from schemas.models.types import TRUSTED

Status = Literal["applied", "late", "duplicate", "dead_letter", "parked", "reference"]

APPLY_FAILED = "apply_failed"
"""Reason of an event isolated after an unexpected error while applying it."""


@dataclass(frozen=True)
class AppliedChange:
    """One change to one citizen: a PopulationChange with the citizen kept in JSON form.

    The citizen after the change is the record as the population database stores it; the
    outbox encodes it to Avro straight from that form, and `model()` builds the contract
    record when one is wanted (no domain rule runs again: every value came from a validated
    event).
    """

    pin: str
    version: int
    event_id: str
    event_type: str
    source: str
    changed_fields: list[str]
    occurred_at: datetime
    applied_at: datetime
    citizen: dict[str, Any]

    def model(self) -> PopulationChange:
        """The PopulationChange record of this change."""
        return PopulationChange(
            pin=self.pin,
            version=self.version,
            event_id=UUID(self.event_id),
            event_type=self.event_type,
            source=self.source,
            changed_fields=self.changed_fields,
            occurred_at=self.occurred_at,
            applied_at=self.applied_at,
            citizen=Citizen.model_validate(self.citizen, context=TRUSTED),
        )


class OutboxWriter(Protocol):
    """Where applied changes go, inside the same transaction (the NPD's outbox)."""

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None: ...


@dataclass
class Incoming:
    """One event to apply, with where it came from (for dead letters and metrics)."""

    event: Event
    topic: str = ""
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    value: bytes | None = None


@dataclass
class Outcome:
    """What applying one event did.

    A refused event has status `dead_letter` and a reason code; an event isolated after an
    unexpected error has reason `apply_failed` and `error_class`, the exception's type name
    (never its message: it may hold values).
    """

    incoming: Incoming
    status: Status
    reason: str | None = None
    message: str = ""
    changes: list[AppliedChange] = field(default_factory=list)
    error_class: str | None = None


@dataclass
class CitizenState:
    """A citizen as one batch holds it: version, record (JSON form), per-field times."""

    pin: str
    version: int
    record: dict[str, Any]
    times: dict[str, str]
    exists: bool = True
    dirty: bool = False
    deleted: bool = False

    @property
    def deceased(self) -> bool:
        return self.record.get("date_of_death") is not None

    def died_before(self, event: Event) -> bool:
        """Whether the citizen's death precedes what `event` reports (a fact from before the
        death, arriving late from another topic, still applies)."""
        died = self.record.get("date_of_death")
        return died is not None and local_date(event.occurred_at).isoformat() > died
