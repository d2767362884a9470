"""The population database's outbox: applied changes, written in the apply transaction.

The outbox relay (`databus run outbox-relay --table npd_outbox`) publishes them to
`population.changes.v1` (every change) and the compacted `population.citizens.v1` (the citizen
after the batch's last change, keyed by PIN).

On PostgreSQL the rows go in with one COPY, and each citizen is Avro-encoded once, straight
from the JSON form the population database keeps: a PopulationChange ends with its `citizen`
field, so its body is the encoding of the fields before it followed by the citizen's own body,
which the citizens row reuses; the transaction also notifies the relay (`notify_relay`), which
then publishes the rows as soon as the batch commits. Elsewhere (SQLite)
`databus.outbox.enqueue_many` writes the contract records.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection

from databus.outbox import (
    enqueue_many,
    notify_relay,
    outbox_table,
    schema_fingerprint,
    schema_name_for,
)
from databus.topology.topics import Topics
from schemas.avro_files import schema_dict
from schemas.avro_writer import Writer, compile_json_writer, compile_writer
from schemas.models.base import Contract
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange
from streams.population.model import AppliedChange
from streams.population.writes import append_rows

NPD_OUTBOX = "npd_outbox"


class PopulationOutbox:
    """Writes PopulationChange and Citizen rows to the NPD outbox table."""

    def __init__(self, topics: Topics, table: str = NPD_OUTBOX) -> None:
        self.topics = topics
        self.table = table

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None:
        if conn.dialect.name == "postgresql":
            append_rows(conn, outbox_table(self.table), self.rows(changes))
            if changes:
                notify_relay(conn, self.table)  # the relay wakes when this batch commits
            return
        records = [change.model() for change in changes]
        enqueue_many(conn, self.topics.population_changes, records, _pin, table=self.table)
        latest: dict[str, Citizen] = {}
        for record in records:
            latest[record.pin] = record.citizen
        enqueue_many(conn, self.topics.population_citizens, latest.values(), _pin, table=self.table)

    def rows(self, changes: Sequence[AppliedChange]) -> list[dict[str, Any]]:
        """Outbox rows: every change, then the latest citizen per PIN (what enqueue_many
        writes, byte for byte)."""
        change_fingerprint, citizen_fingerprint = _fingerprints()
        prefix, citizen_writer = _writers()
        rows: list[dict[str, Any]] = []
        latest: dict[str, bytes] = {}
        for change in changes:
            citizen = bytearray()
            citizen_writer(change.citizen, citizen)
            body = bytearray()
            prefix(change, body)
            body += citizen
            latest[change.pin] = bytes(citizen)
            rows.append(
                {
                    "topic": self.topics.population_changes,
                    "msg_key": change.pin,
                    "event_id": change.event_id,
                    "event_type": change.event_type,
                    "schema_fingerprint": change_fingerprint,
                    "body": bytes(body),
                }
            )
        rows += [
            {
                "topic": self.topics.population_citizens,
                "msg_key": pin,
                "event_id": str(uuid.uuid4()),
                "event_type": "Citizen",
                "schema_fingerprint": citizen_fingerprint,
                "body": body,
            }
            for pin, body in latest.items()
        ]
        return rows


@cache
def _fingerprints() -> tuple[str, str]:
    return (
        schema_fingerprint(schema_name_for(PopulationChange)),
        schema_fingerprint(schema_name_for(Citizen)),
    )


@cache
def _writers() -> tuple[Writer, Writer]:
    """(the PopulationChange fields before `citizen`, the Citizen in JSON form) as compiled
    writers."""
    schema = schema_dict(schema_name_for(PopulationChange))
    *head, last = schema["fields"]
    assert last["name"] == "citizen", "PopulationChange must end with its citizen"
    return (
        compile_writer({**schema, "fields": head}),
        compile_json_writer(schema_dict(schema_name_for(Citizen))),
    )


def _pin(record: Contract) -> str:
    pin = getattr(record, "pin", None)
    assert isinstance(pin, str)
    return pin
