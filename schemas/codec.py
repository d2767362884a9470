"""Models to Avro datums and back (fastavro shapes), without the registry.

`databus.serde` adds the registry and the Confluent framing on top. Event payloads are written
with fastavro's tuple notation `(record full name, datum)`, so the union branch is chosen by name
instead of by trying every branch.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError

from schemas.catalog import EVENT_CLASSES, EventDomain
from schemas.domain import ContractError, Issue
from schemas.errors import contract_error
from schemas.models.base import Contract
from schemas.models.envelope import Event


def to_datum(record: Contract) -> dict[str, Any]:
    """The fastavro datum of a model (events get their payload branch named)."""
    datum = record.model_dump()
    if isinstance(record, Event):
        datum["payload"] = (type(record.payload).avro_fullname(), datum["payload"])
    return datum


def event_from_data(domain: EventDomain, data: dict[str, Any], record: str | None = None) -> Event:
    """Validate a dict (JSON or decoded Avro) as an event of `domain`.

    Raises ContractError naming `record` (an event id or a line number, never a value).
    """
    event_type = data.get("event_type")
    cls = EVENT_CLASSES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise ContractError(
            [Issue("event_type", "event.unknown_type", "not an event type of the bus")],
            record=record,
        )
    if cls not in domain.events:
        raise ContractError(
            [
                Issue(
                    "event_type",
                    "event.wrong_topic",
                    f"event type {event_type} does not belong to the {domain.name} topic",
                )
            ],
            record=record,
        )
    payload = data.get("payload")
    if isinstance(payload, tuple):  # fastavro `return_record_name` form
        data = {**data, "payload": payload[1]}
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise contract_error(exc, record or _event_label(data)) from None


def record_from_data(
    model: type[Contract], data: dict[str, Any], record: str | None = None
) -> Contract:
    """Validate a dict as a plain record (Citizen, Heartbeat ...); ContractError on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise contract_error(exc, record) from None


def _event_label(data: dict[str, Any]) -> str | None:
    """`event <uuid>` when the data carries a well-formed event id (never any other value)."""
    try:
        return f"event {UUID(str(data.get('event_id')))}"
    except ValueError:
        return None
