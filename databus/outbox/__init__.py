"""The write side of the transactional outbox: the table, its DDL, and enqueueing rows.

A ministry (or the population database) adds outbox rows inside its own transaction with
`enqueue` / `enqueue_many`; the relay in `producers.outbox` publishes them. This half lives in
the kernel because writers sit on both sides of the bus (DESIGN.md §2).
"""

from databus.outbox.backlog import Backlog, backlog
from databus.outbox.ddl import create_outbox, ddl_statements, ddl_text, drop_outbox
from databus.outbox.enqueue import enqueue, enqueue_many
from databus.outbox.fingerprints import schema_fingerprint, schema_for_fingerprint, schema_name_for
from databus.outbox.notify import notify_channel, notify_relay
from databus.outbox.table import DEFAULT_TABLE, check_table_name, outbox_table

__all__ = [
    "DEFAULT_TABLE",
    "Backlog",
    "backlog",
    "check_table_name",
    "create_outbox",
    "ddl_statements",
    "ddl_text",
    "drop_outbox",
    "enqueue",
    "enqueue_many",
    "notify_channel",
    "notify_relay",
    "outbox_table",
    "schema_fingerprint",
    "schema_for_fingerprint",
    "schema_name_for",
]
