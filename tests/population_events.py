"""Event builders for population-sync tests: one valid event of any type, with what a test sets."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from databus.topology.loader import parse_topology
from databus.topology.model import Topology
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.codec import event_from_data
from schemas.examples import EXAMPLES
from schemas.models.downstream import PopulationChange
from schemas.models.envelope import Event
from streams.population.apply import AppliedChange

TOPOLOGY_PATH = Path(__file__).resolve().parents[1] / "deploy" / "topology.yaml"
T0 = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)


def topology() -> Topology:
    """The project's topology (authority of every source)."""
    return parse_topology(TOPOLOGY_PATH.read_text())


class ModelOutbox:
    """An outbox that builds every change's contract record (as the SQLite outbox does)."""

    def __init__(self) -> None:
        self.changes: list[PopulationChange] = []

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None:
        self.changes += [change.model() for change in changes]


def event(event_type: str, pin: str | None, at: datetime, **changes: Any) -> Event:
    """The example of `event_type` for `pin` at `at`, envelope and payload keys overridden."""
    data = copy.deepcopy(EXAMPLES[event_type])
    data.update(
        event_id=str(uuid.uuid4()),
        subject_pin=pin,
        occurred_at=at.isoformat(),
        recorded_at=(at + timedelta(hours=1)).isoformat(),
    )
    payload = changes.pop("payload", {})
    data.update(changes)
    data["payload"].update(payload)
    domain = next(d for d in EVENT_DOMAINS.values() if EVENT_CLASSES[event_type] in d.events)
    return event_from_data(domain, data)


def birth(pin: str, at: datetime = T0, dob: str = "2024-05-17", sex: str = "FEMALE") -> Event:
    """A birth without parents."""
    data = copy.deepcopy(EXAMPLES["BirthRegistered"]["payload"])
    data.update(date_of_birth=dob, sex=sex, father=None, mother=None)
    return event("BirthRegistered", pin, at, payload=data)


def name_change(
    pin: str, at: datetime, given: str, *, corrects: Event | None = None, **payload: Any
) -> Event:
    """A CivilStatusChanged of the name; CORRECTED when it corrects an event."""
    name = {"family_name": "Nguyễn", "middle_name": "Ngọc", "given_name": given}
    envelope: dict[str, Any] = {}
    if corrects is not None:
        envelope = {"change_type": "CORRECTED", "corrects_event_id": str(corrects.event_id)}
    return event("CivilStatusChanged", pin, at, payload={"name": name, **payload}, **envelope)
