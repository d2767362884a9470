"""The population sync's rules, as pure functions: no database, no clock, no I/O.

Given an event, what it sets (`changes.field_changes`) and what the batch knows of its subject
and of the event it corrects, they say whether it applies, waits (parked) or is refused with a
reason code, which facts it adds and switches off, and what a field's value is given its facts.
The engine (`apply.py`) loads what they need for a whole batch at once and writes what they
decided; they never query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from schemas.event_types import EVENT_TYPES
from schemas.models.base import ChangeType
from schemas.models.envelope import Event
from streams.population.changes import DEFAULTS, MULTI_VALUED, FieldChange
from streams.population.model import CitizenState

MANDATORY_FIELDS: Final = ("pin", "family_name", "given_name", "date_of_birth", "sex")
"""Fields every citizen keeps: an event that would leave one empty is refused."""

CORRECTABLE: Final[Mapping[str, frozenset[str]]] = {
    **{t.name: frozenset({t.name}) for t in EVENT_TYPES},
    "CivilStatusChanged": frozenset({"CivilStatusChanged", "BirthRegistered"}),
}
"""Correcting event type -> the types of event it may correct (CORRECTED). An annulment
(ANNULLED) has the type of the event it annuls."""

UNAMENDABLE: Final = frozenset({"PinReestablished"})
"""Types whose events are neither corrected nor annulled by an event (a manual procedure)."""


@dataclass(frozen=True)
class Refusal:
    """Why an event is not applied: a reason code, and a message without personal values."""

    reason: str
    message: str


@dataclass(frozen=True)
class Park:
    """The event waits for its subject's PIN to exist (a birth or re-establishment not yet
    applied)."""


PARK: Final = Park()


@dataclass(frozen=True)
class Admitted:
    """The event applies; `creates`: it creates its subject (a birth)."""

    creates: bool = False


Admission = Refusal | Park | Admitted


def authority(
    event: Event, changes: Sequence[FieldChange], granted: frozenset[str]
) -> Refusal | None:
    """Refusal when the event's source is not authoritative for a field it sets."""
    refused = sorted({c.field for c in changes} - granted)
    if not refused:
        return None
    return Refusal(
        "not_authoritative",
        f"source {event.source} is not authoritative for {', '.join(refused)}",
    )


def admit(event: Event, subject: CitizenState | None) -> Admission:
    """Whether an event (not a PIN re-establishment) applies to its subject as it stands."""
    if event.event_type == "BirthRegistered" and event.change_type is ChangeType.CREATED:
        if subject is not None:
            return Refusal("subject_exists", "a citizen with this PIN already exists")
        return Admitted(creates=True)
    if subject is None:
        return PARK
    if event.change_type is ChangeType.CREATED and subject.died_before(event):
        return Refusal("subject_deceased", "the subject is deceased; only corrections apply")
    return Admitted()


def admit_reestablishment(
    event: Event, old: CitizenState | None, new_pin_in_use: bool
) -> Admission:
    """Whether a PinReestablished moves the citizen of its old PIN to its new one."""
    if event.change_type is not ChangeType.CREATED:
        return _unamendable(event.event_type)
    if old is None:
        return PARK
    if old.died_before(event):
        return Refusal("subject_deceased", "the subject is deceased; only corrections apply")
    if new_pin_in_use:
        return Refusal("pin_in_use", "the new PIN already belongs to a citizen")
    return Admitted()


def amendment(event: Event, target_type: str | None) -> Refusal | None:
    """Refusal of a CORRECTED or ANNULLED event, given the type of the event it names (None:
    never applied)."""
    if target_type is None:
        return Refusal(
            "correction_target_missing", "the corrected or annulled event was never applied"
        )
    if target_type in UNAMENDABLE:
        return _unamendable(target_type)
    if event.change_type is ChangeType.ANNULLED:
        if target_type == "BirthRegistered":
            return Refusal(
                "birth_annulment_unsupported",
                "annulling a birth registration needs a manual procedure",
            )
        if event.event_type != target_type:
            return Refusal(
                "correction_type_mismatch",
                f"a {event.event_type} cannot annul a {target_type}: an annulment has the "
                "type of the event it annuls",
            )
        return None
    if target_type not in CORRECTABLE.get(event.event_type, frozenset()):
        return Refusal(
            "correction_type_mismatch", f"a {event.event_type} cannot correct a {target_type}"
        )
    return None


def _unamendable(event_type: str) -> Refusal:
    return Refusal(
        "amendment_unsupported",
        f"correcting or annulling a {event_type} needs a manual procedure",
    )


def switched_off_fields(event: Event, changes: Sequence[FieldChange]) -> frozenset[str] | None:
    """The fields in which an amendment switches off its target's facts: those a correction
    carries (the target's other facts stay), all of them for an annulment (None)."""
    if event.change_type is ChangeType.ANNULLED:
        return None
    carried = {c.field for c in changes}
    if event.event_type == "BirthRegistered":
        carried.add("children")  # a birth states the parents: the old parents lose the child
    return frozenset(carried)


def missing_mandatory(record: Mapping[str, Any]) -> list[str]:
    """The mandatory fields a citizen record lacks."""
    return [name for name in MANDATORY_FIELDS if record.get(name) in (None, "")]


def lost_mandatory(fields: Iterable[str]) -> Refusal:
    """The refusal of an event that would leave a citizen without these mandatory fields."""
    return Refusal(
        "mandatory_field_lost",
        f"the event would leave the citizen without {', '.join(sorted(fields))}",
    )


# ---------------------------------------------------------------------- facts and values

Fact = dict[str, Any]
"""A field's fact: value, event_id, occurred_at, and `_order` (position among equal times)."""

Placement = Literal["set", "late", "history"]
"""How a new fact lands: it sets the field; it is older than the field's value (late); or it
is an older element of a list field (its place needs the field's history)."""


def place(
    field: str, current_time: str | None, when: datetime, when_text: str | None = None
) -> Placement:
    """Where a CREATED event's fact for `field` lands, given the time of the field's value
    (`when_text`: `when`'s ISO text if at hand; the same text is the same time, no parse)."""
    newer = (
        current_time is None
        or current_time == when_text
        or when >= datetime.fromisoformat(current_time)
    )
    if newer:
        return "set"
    return "history" if field in MULTI_VALUED else "late"


def new_value(field: str, current: Any, value: Any) -> Any:
    """The field's value once a newer fact `value` is set (list fields gain an element)."""
    if field in MULTI_VALUED:
        return [*(current or []), value]
    return value


def settle(field: str, facts: Sequence[Fact], event_id: str) -> tuple[Any, datetime | None, bool]:
    """A field's value from its active facts: (value, time of the newest, whether the fact of
    `event_id` lost to a newer one). List fields hold every fact, oldest first; the others the
    newest; no fact: the default."""
    if field in MULTI_VALUED:
        value: Any = [f["value"] for f in sorted(facts, key=fact_order)]
        newest = max((aware(f["occurred_at"]) for f in facts), default=None)
        return value, newest, False
    best = max(facts, key=fact_order, default=None)
    if best is None:
        return DEFAULTS.get(field), None, False
    lost = best["event_id"] != event_id and any(f["event_id"] == event_id for f in facts)
    return best["value"], aware(best["occurred_at"]), lost


def fact_order(fact: Fact) -> tuple[datetime, int]:
    """Facts compare by real-world time, then by the order they were recorded in."""
    return (aware(fact["occurred_at"]), fact["_order"])


def aware(value: datetime) -> datetime:
    """A timestamp with its time zone (SQLite returns naive UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
