"""The envelope every change event shares (DESIGN.md §4), and its cross-field rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from schemas.domain import pin_issues
from schemas.models.base import ChangeType, Contract, field
from schemas.models.types import AgencyId, Pin, Timestamp, raise_first

RECORDING_SKEW = timedelta(minutes=5)


class Event(Contract):
    """Envelope of a change event. Subclasses fix `event_type` and type the `payload`."""

    domain: ClassVar[str]
    """Which topic family the event belongs to (civil-status, residence, identity, reference)."""

    event_id: UUID = field("Unique id of this event (UUID), used for de-duplication.")
    event_type: str = field("Type of the event; selects the payload record.")
    source: AgencyId = field("Publishing agency, X-Road style (e.g. VN/GOV/BTP/hotich).")
    subject_pin: Pin = field("PIN of the citizen the event is about; the Kafka key.", "identifier")
    change_type: ChangeType = field(
        "CREATED for a new fact, CORRECTED to replace an earlier event, ANNULLED to revert one.",
        default=ChangeType.CREATED,
    )
    corrects_event_id: UUID | None = field(
        "For CORRECTED and ANNULLED: the event_id this event corrects or annuls.", default=None
    )
    occurred_at: Timestamp = field("When the fact happened in the real world (e.g. the death).")
    recorded_at: Timestamp = field("When the source registry recorded it.")
    correlation_id: str | None = field(
        "Id tying events of one cross-agency workflow together (birth, residence, insurance).",
        default=None,
        max_length=100,
    )
    payload: Any = field("The event's typed content.")

    def check_subject_pin(self, date_of_birth: date, sex: str) -> None:
        """Raise if the subject PIN's century/sex/year digits contradict birth date and sex."""
        raise_first(
            pin_issues(self.subject_pin, date_of_birth=date_of_birth, sex=sex, field="subject_pin"),
            at_subfield=True,
        )

    @model_validator(mode="after")
    def _envelope_rules(self) -> Event:
        error = envelope_error(
            self.change_type, self.corrects_event_id, self.occurred_at, self.recorded_at
        )
        if error is not None:
            raise error
        return self


def envelope_error(
    change_type: str, corrects_event_id: object, occurred_at: datetime, recorded_at: datetime
) -> PydanticCustomError | None:
    """The envelope's own rule an event breaks, or None: only CORRECTED and ANNULLED events
    name the event they correct, and an event is not recorded before it occurred (with skew).
    Shared by the model and the compiled checker (`schemas.fast_rules`)."""
    needs_target = change_type != ChangeType.CREATED
    if needs_target and corrects_event_id is None:
        return PydanticCustomError(
            "event.corrects_event_id",
            "a CORRECTED or ANNULLED event must name the event it corrects",
            {"at": "corrects_event_id"},
        )
    if not needs_target and corrects_event_id is not None:
        return PydanticCustomError(
            "event.corrects_event_id",
            "a CREATED event must not name an event it corrects",
            {"at": "corrects_event_id"},
        )
    if recorded_at + RECORDING_SKEW < occurred_at:
        return PydanticCustomError(
            "event.recorded_before_occurred",
            "recorded_at is earlier than occurred_at",
            {"at": "recorded_at"},
        )
    return None
