"""Records the bus itself produces: population changes, sector projections, verification,
dead letters, the data-usage trail, heartbeats and connection status changes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from schemas.models.base import NAMESPACE_ROOT, Contract, field
from schemas.models.citizen import Citizen, CitizenProjection
from schemas.models.types import Pin

POPULATION = f"{NAMESPACE_ROOT}.population"
SECTOR = f"{NAMESPACE_ROOT}.sector"
BUS = f"{NAMESPACE_ROOT}.bus"


class PopulationChange(Contract):
    """One applied change to the NPD: which fields changed and the citizen after it."""

    avro_namespace = POPULATION
    pin: Pin = field("PIN of the citizen; the Kafka key.", "identifier")
    version: int = field("Citizen version after this change (1 for the first).", ge=1)
    event_id: UUID = field("The source event that caused the change.")
    event_type: str = field("Type of that event.")
    source: str = field("Agency that published that event.")
    changed_fields: list[str] = field("Citizen fields whose value changed.")
    occurred_at: datetime = field("When the fact happened in the real world.")
    applied_at: datetime = field("When the NPD committed the change.")
    citizen: Citizen = field("The citizen after the change.", "personal")


class SectorProjection(Contract):
    """What one sector receives: the citizen fields its legal basis allows, and the version."""

    avro_namespace = SECTOR
    pin: Pin = field("PIN of the citizen; the Kafka key.", "identifier")
    sector: str = field("Receiving sector (topology name).")
    version: int = field("Citizen version this projection reflects.", ge=1)
    released_fields: list[str] = field("Fields released in this message.")
    deceased: bool = field("Whether the citizen is deceased.", "personal")
    citizen: CitizenProjection = field("The allowed fields; all others empty.", "personal")
    emitted_at: datetime = field("When the router emitted this projection.")


class VerificationClaims(Contract):
    """What a sector holds about a person, as it holds it: text, checked by the verifier.

    The claims are not validated at the edge: a malformed claim is itself an answer the sector
    needs (INVALID, with its field and rule), so it travels to the verifier like any other.
    """

    avro_namespace = SECTOR
    family_name: str | None = field("Claimed family name.", "personal", default=None)
    middle_name: str | None = field("Claimed middle name.", "personal", default=None)
    given_name: str | None = field("Claimed given name.", "personal", default=None)
    date_of_birth: str | None = field(
        "Claimed date of birth (YYYY-MM-DD).", "personal", default=None
    )
    sex: str | None = field("Claimed sex (MALE or FEMALE).", "personal", default=None)
    identity_card_number: str | None = field("Claimed card number.", "identifier", default=None)


class VerificationRequest(Contract):
    """A sector's request to check its claims about one PIN against the NPD."""

    avro_namespace = SECTOR
    request_id: UUID = field("Id of the request, echoed in the result; a repeat is answered once.")
    sector: str = field("Requesting sector (topology name).")
    record_id: str = field("The sector's own id of the record (e.g. a subscription).")
    pin: str = field("PIN the claims are about, as the sector holds it.", "identifier")
    claims: VerificationClaims = field("The claimed values.", "personal")
    requested_at: datetime = field("When the sector sent the request.")


class VerificationStatus(StrEnum):
    """Overall answer to a request."""

    MATCHED = "MATCHED"
    PARTIAL = "PARTIAL"
    MISMATCHED = "MISMATCHED"
    NOT_FOUND = "NOT_FOUND"
    DECEASED = "DECEASED"
    PIN_REPLACED = "PIN_REPLACED"
    INVALID = "INVALID"
    REFUSED = "REFUSED"


class FieldVerdict(StrEnum):
    """Per-field outcome; the NPD's value is never returned."""

    MATCH = "MATCH"
    MATCH_IGNORING_DIACRITICS = "MATCH_IGNORING_DIACRITICS"
    MISMATCH = "MISMATCH"
    NOT_CHECKED = "NOT_CHECKED"


class ClaimProblem(Contract):
    """Why a request was INVALID or REFUSED: the claim field and the rule, never a value."""

    avro_namespace = SECTOR
    claim: str = field("Claim field (or `pin`, `sector`).")
    rule: str = field("Rule id, e.g. `pin.place_code` or `verification.field_not_allowed`.")
    message: str = field("Explanation without personal values.")


class VerificationResult(Contract):
    """The answer to a VerificationRequest: per-field verdicts, never the NPD's values."""

    avro_namespace = SECTOR
    request_id: UUID = field("The request answered.")
    sector: str = field("Requesting sector.")
    record_id: str = field("The sector's record id, echoed from the request.")
    pin: str = field("PIN the claims were about, echoed from the request.", "identifier")
    status: VerificationStatus = field("Overall answer.")
    verdicts: dict[str, FieldVerdict] = field("Verdict per claimed field.")
    problems: list[ClaimProblem] = field(
        "Field and rule of each problem (INVALID, REFUSED).", default_factory=list
    )
    answered_at: datetime = field("When the verifier first answered this request id.")


class DeadLetter(Contract):
    """A record that could not be decoded or applied, kept with the reason (no personal values)."""

    avro_namespace = BUS
    original_topic: str = field("Topic the record came from.")
    original_partition: int = field("Its partition.")
    original_offset: int = field("Its offset.")
    original_key: bytes | None = field("Its key bytes, as received.", "identifier", default=None)
    original_value: bytes | None = field("Its value bytes, as received.", "personal", default=None)
    consumer: str = field("Consumer group or component that gave up on it.")
    error_class: str = field("Class of the error (e.g. DecodeError).")
    reason: str = field("Reason code (e.g. unknown_schema_id, not_authoritative).")
    message: str = field("Explanation without personal values.")
    failed_at: datetime = field("When it was dead-lettered.")


class UsagePurpose(StrEnum):
    """Why a citizen's data was used."""

    RELEASE = "RELEASE"
    VERIFICATION = "VERIFICATION"


class DataUsage(Contract):
    """One release of a citizen's data to a sector: who got which fields, why, when."""

    avro_namespace = BUS
    usage_id: UUID = field("Id of this release record.")
    pin: Pin = field("Whose data was released; the Kafka key.", "identifier")
    sector: str = field("Receiving sector.")
    agency: str = field("Receiving agency (X-Road id).")
    fields_released: list[str] = field("Citizen fields released.")
    legal_basis: list[str] = field("Instruments and articles the release rests on.")
    citizen_version: int = field("Citizen version released.", ge=1)
    event_id: UUID | None = field("Source event that caused the release, if any.", default=None)
    released_at: datetime = field("When the projection was emitted.")
    purpose: UsagePurpose = field(
        "RELEASE (a projection) or VERIFICATION (claims checked, no value returned).",
        default=UsagePurpose.RELEASE,
    )
    outcome: str | None = field("Overall status of a verification.", default=None)


class Heartbeat(Contract):
    """Sent by every publisher at its interval, so a quiet ministry is not taken for a dead link."""

    avro_namespace = BUS
    source: str = field("X-Road style id of the publishing agency, e.g. VN/GOV/BTP/hotich.")
    instance: str = field("Id of the publisher process instance, stable for its lifetime.")
    sequence: int = field("Heartbeat counter of this instance, starting at 0.", ge=0)
    sent_at: datetime = field("When the heartbeat was sent (UTC).")
    interval_seconds: int = field("Interval the publisher promises between heartbeats.", ge=1)


class ConnectionState(StrEnum):
    """Health of one connection (DESIGN.md §7); docs/observability.md gives the rules."""

    OK = "OK"
    LAGGING = "LAGGING"
    STALLED = "STALLED"
    STOPPED = "STOPPED"
    IDLE = "IDLE"
    SINK_FAILING = "SINK_FAILING"
    DOWN = "DOWN"


class ConnectionStatusChanged(Contract):
    """A change of a connection's health, published by the lag monitor; keyed by connection."""

    avro_namespace = BUS
    connection: str = field("Connection name from the topology (the `connection` label).")
    status: ConnectionState = field("The new state.")
    previous: ConnectionState | None = field("The state before, if any.", default=None)
    reason: str = field("Reason code of the new state (e.g. no_live_members, lag_growing).")
    detail: str = field("Explanation without personal values.", default="")
    lag_messages: int = field("Lag of the connection in messages when the state changed.", ge=0)
    lag_seconds: float = field("Lag of the connection in seconds when the state changed.", ge=0)
    changed_at: datetime = field("When the monitor saw the change (UTC).")
    monitor: str = field("Id of the monitor instance that published the change.")
