"""The transactional outbox: write events in the ministry's own transaction, relay them to Kafka.

- `enqueue` / `enqueue_many` add rows inside the caller's transaction (never commit).
- `OutboxRelay` publishes them in id order, marks them, and resumes after a crash (a row may be
  repeated, never lost); one relay per outbox, by lease.
- `create_outbox` runs the shipped DDL (`databus/outbox/ddl/<dialect>.sql`); `outbox_table` is the
  same table for SQLAlchemy. The write side lives in `databus.outbox` and is re-exported here.
"""

from databus.outbox import (
    DEFAULT_TABLE,
    Backlog,
    backlog,
    create_outbox,
    ddl_statements,
    ddl_text,
    drop_outbox,
    enqueue,
    enqueue_many,
    outbox_table,
    schema_fingerprint,
    schema_for_fingerprint,
    schema_name_for,
)
from producers.outbox.lease import LeaseHeldError
from producers.outbox.relay import OutboxRelay, RelayError, RelayStats

__all__ = [
    "DEFAULT_TABLE",
    "Backlog",
    "LeaseHeldError",
    "OutboxRelay",
    "RelayError",
    "RelayStats",
    "backlog",
    "create_outbox",
    "ddl_statements",
    "ddl_text",
    "drop_outbox",
    "enqueue",
    "enqueue_many",
    "outbox_table",
    "schema_fingerprint",
    "schema_for_fingerprint",
    "schema_name_for",
]
