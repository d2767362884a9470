"""Validation issues, the error that carries them, and the catalogue of rule ids.

Every rule has an id (``pin.length``) and a kind:

- ``schema`` rules are checked at the edge, on the record alone, before an event enters the bus
  (this package): structure of a PIN, names, dates, administrative-unit codes. A record that breaks
  one is refused at once and never published.
- ``processing`` rules need the population database or the stream history (does the subject
  exist, is the source authoritative for the field, is the event a duplicate or late); stream
  processors check them later and route failures to the dead-letter topic, under the same ids.

No message, ``str()`` or ``repr()`` here ever contains the value that was checked: issues name the
field and the rule and explain in general terms, so they can be logged and sent to dead-letter
topics without leaking personal data (Decree 13/2023/NĐ-CP).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

RuleKind = Literal["schema", "processing"]
"""Where a rule is checked: at the edge on the record alone, or later against the database."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One broken rule: the dotted path of the field, the rule id and a value-free message."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: rule {self.rule}: {self.message}"


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A rule of the data contracts: its id, its kind and what it requires."""

    rule: str
    kind: RuleKind
    description: str


def _rules(*infos: RuleInfo) -> Mapping[str, RuleInfo]:
    return MappingProxyType({info.rule: info for info in infos})


RULES: Final[Mapping[str, RuleInfo]] = _rules(
    # PIN structure (schemas.domain.pin).
    RuleInfo("pin.digits", "schema", "A PIN contains only the ASCII digits 0-9."),
    RuleInfo("pin.length", "schema", "A PIN has exactly 12 digits."),
    RuleInfo(
        "pin.place_code",
        "schema",
        "The first three digits are a province code of the table (001-096) or a country code "
        "(101-295) for births registered abroad.",
    ),
    RuleInfo(
        "pin.century_sex",
        "schema",
        "The fourth digit's century (0/1 1900s, 2/3 2000s, 4/5 2100s, 6/7 2200s, 8/9 2300s) is "
        "the century of the date of birth.",
    ),
    RuleInfo(
        "pin.sex_digit",
        "schema",
        "The fourth digit is even for a male and odd for a female subject.",
    ),
    RuleInfo(
        "pin.birth_year",
        "schema",
        "The fifth and sixth digits are the last two digits of the year of birth.",
    ),
    # Names (schemas.domain.names).
    RuleInfo("name.empty", "schema", "A required name is not empty after normalisation."),
    RuleInfo("name.too_long", "schema", "A name is not longer than its maximum length."),
    RuleInfo(
        "name.characters",
        "schema",
        "A name has at least one letter and only letters (with their combining marks), spaces, "
        "hyphens, apostrophes and periods: no digits, control characters or other symbols.",
    ),
    # Dates and timestamps (schemas.domain.dates).
    RuleInfo("date.future", "schema", "A date or timestamp is not in the future."),
    RuleInfo("date.before_1900", "schema", "A date or timestamp is not before 1 January 1900."),
    RuleInfo("timestamp.naive", "schema", "A timestamp carries a time zone."),
    # Administrative units (schemas.domain.admin_units).
    RuleInfo("admin.scheme", "schema", "The administrative-unit scheme is VN-63 or VN-34."),
    RuleInfo("admin.province", "schema", "The province code is a province of the scheme."),
    RuleInfo(
        "admin.district",
        "schema",
        "A district code has 3 digits, and only VN-63 addresses have one (VN-34 has no district "
        "level).",
    ),
    RuleInfo("admin.commune", "schema", "A commune code has 5 digits."),
    RuleInfo(
        "admin.scheme_date",
        "schema",
        "The scheme was in force on the address's date: VN-63 before 1 July 2025, VN-34 from "
        "that day on.",
    ),
    # Checked by stream processors against the population database and the event history.
    RuleInfo(
        "subject.exists", "processing", "The subject PIN is a citizen of the population database."
    ),
    RuleInfo(
        "subject.deceased",
        "processing",
        "No change other than a correction is recorded for a subject after their death.",
    ),
    RuleInfo(
        "source.authoritative",
        "processing",
        "The source agency is authoritative for every field the event changes.",
    ),
    RuleInfo(
        "correction.target_exists",
        "processing",
        "The event a correction or annulment refers to exists and concerns the same subject.",
    ),
    RuleInfo(
        "pin.reestablished_unique",
        "processing",
        "A re-established PIN is not already the current or an earlier PIN of another citizen.",
    ),
    RuleInfo(
        "event.duplicate", "processing", "An event id already applied is skipped, never reapplied."
    ),
    RuleInfo(
        "event.late",
        "processing",
        "An event whose occurred_at is older than the value a field already holds does not "
        "overwrite that value (a newer occurred_at wins).",
    ),
    # Checked by the contract models (schemas.models) on a whole event, at the edge.
    RuleInfo("event.unknown_type", "schema", "The event_type is one the bus knows."),
    RuleInfo("event.wrong_topic", "schema", "The event type belongs to the topic it is sent to."),
    RuleInfo(
        "event.corrects_event_id",
        "schema",
        "CORRECTED and ANNULLED events name the event they correct; CREATED events do not.",
    ),
    RuleInfo(
        "event.recorded_before_occurred",
        "schema",
        "recorded_at is not earlier than occurred_at (five minutes of clock skew allowed).",
    ),
    RuleInfo("pin.reestablished_same", "schema", "A re-established PIN differs from the old one."),
    RuleInfo("event.no_change", "schema", "A civil status change changes at least one field."),
    # Checked by the publisher SDK against the topology, before anything reaches Kafka.
    RuleInfo("source.not_granted", "schema", "The topology grants the event type to the source."),
    RuleInfo("source.mismatch", "schema", "The event's source is the publishing agency."),
    # Checked by the file loader on each line before it is an event at all.
    RuleInfo("event.unreadable", "schema", "A line is a JSON object or a CSV row of the header."),
)
"""Every rule id used by the data contracts, with its kind and description."""

MODEL_RULES: Final[frozenset[str]] = frozenset(
    {
        "event.unknown_type",
        "event.wrong_topic",
        "event.corrects_event_id",
        "event.recorded_before_occurred",
        "pin.reestablished_same",
        "event.no_change",
        "source.not_granted",
        "source.mismatch",
        "event.unreadable",
    }
)
"""Schema rules checked outside this package: by the contract models on whole records, or by
the publisher SDK against the topology."""


class ContractError(ValueError):
    """A record broke one or more rules of the data contracts.

    ``record`` is a non-personal identifier of the record, such as ``"event <event_id>"`` or
    ``"line 12"``; it is shown verbatim at the start of the message.
    """

    issues: tuple[Issue, ...]
    record: str | None

    def __init__(self, issues: Iterable[Issue], record: str | None = None) -> None:
        self.issues = tuple(issues)
        if not self.issues:
            raise ValueError("ContractError needs at least one issue")
        self.record = record
        super().__init__(self._describe())

    def _describe(self) -> str:
        count = len(self.issues)
        problems = "; ".join(f"{i.field} [{i.rule}] {i.message}" for i in self.issues)
        head = f"{count} problem{'s' if count != 1 else ''}: {problems}"
        return f"{self.record}: {head}" if self.record else head

    @property
    def rules(self) -> tuple[str, ...]:
        """The rule ids of the issues, in order."""
        return tuple(issue.rule for issue in self.issues)

    def __reduce__(self) -> tuple[type[ContractError], tuple[tuple[Issue, ...], str | None]]:
        return (type(self), (self.issues, self.record))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(issues={self.issues!r}, record={self.record!r})"


def raise_for_issues(issues: Iterable[Issue], *, record: str | None = None) -> None:
    """Raise a `ContractError` if ``issues`` is not empty."""
    found = tuple(issues)
    if found:
        raise ContractError(found, record)
