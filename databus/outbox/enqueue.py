"""Write records into the outbox inside the caller's own transaction.

    with engine.begin() as conn:
        conn.execute(...)                       # the ministry's business change
        enqueue(conn, "civilstatus.events.v1", event, key=event.subject_pin)

Both commit or neither does. The record is an already validated contract model; its Avro body is
written here with the compiled writer of its schema (no registry call: the relay adds the 5-byte
header when it publishes). Nothing here commits, flushes or logs a value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Insert, Table, insert

from databus.outbox.fingerprints import schema_fingerprint, schema_name_for
from databus.outbox.table import DEFAULT_TABLE, outbox_table
from schemas.avro_files import schema_dict
from schemas.avro_writer import Writer, compile_writer
from schemas.models.base import Contract

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
MAX_KEY_LENGTH = 64
MAX_EVENT_TYPE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class _Codec:
    writer: Writer
    fingerprint: str


@cache
def _writer(schema_name: str) -> Writer:
    return compile_writer(schema_dict(schema_name))


@cache
def _codec(model: type[Contract]) -> _Codec:
    name = schema_name_for(model)
    return _Codec(_writer(name), schema_fingerprint(name))


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


def _table(table: str | Table) -> Table:
    return outbox_table(table) if isinstance(table, str) else table


def _check_topic(topic: str) -> None:
    if not _TOPIC.match(topic) or topic in (".", ".."):
        raise ValueError(
            "topic must be 1-249 characters of letters, digits, '.', '_' and '-' "
            "(a legal Kafka topic name)"
        )


def _row(
    topic: str,
    record: Contract,
    key: str,
    event_id: UUID | str | None,
    event_type: str | None,
) -> dict[str, Any]:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        # Never echo the key: it is usually a PIN.
        raise ValueError(f"the Kafka key must be a string of 1-{MAX_KEY_LENGTH} characters")
    codec = _codec(type(record))
    out = bytearray()
    codec.writer(record, out)
    if event_id is None:
        own = getattr(record, "event_id", None)
        event_id = own if isinstance(own, UUID) else uuid.uuid4()
    if event_type is None:
        own_type = getattr(record, "event_type", None)
        event_type = own_type if isinstance(own_type, str) else type(record).__name__
    if not 0 < len(event_type) <= MAX_EVENT_TYPE_LENGTH:
        raise ValueError(f"event_type must be 1-{MAX_EVENT_TYPE_LENGTH} characters")
    return {
        "topic": topic,
        "msg_key": key,
        "event_id": str(UUID(str(event_id))),
        "event_type": event_type,
        "schema_fingerprint": codec.fingerprint,
        "body": bytes(out),
    }


def enqueue(
    conn: Connection,
    topic: str,
    record: Contract,
    *,
    key: str,
    table: str | Table = DEFAULT_TABLE,
    event_id: UUID | str | None = None,
    event_type: str | None = None,
) -> int:
    """Add one record to the outbox in the caller's transaction; return its outbox id.

    `key` is the Kafka key (the subject PIN for citizen events). The `event_id` and
    `event_type` headers default to the record's own fields when it has them (events,
    PopulationChange), else to a fresh UUID and the record's class name. Never commits.
    """
    _check_topic(topic)
    row = _row(topic, record, key, event_id, event_type)
    key_row = conn.execute(_insert(_table(table)), row).inserted_primary_key
    assert key_row is not None
    return int(key_row[0])


def enqueue_many(
    conn: Connection,
    topic: str,
    records: Iterable[Contract],
    key_of: Callable[[Contract], str],
    *,
    table: str | Table = DEFAULT_TABLE,
) -> int:
    """Add records to the outbox with one executemany, in iteration order; return how many.

    Ids (and so the publishing order per key) follow the order of `records`. Never commits.
    """
    _check_topic(topic)
    rows = [_row(topic, record, key_of(record), None, None) for record in records]
    if rows:
        conn.execute(_insert(_table(table)), rows)
    return len(rows)
