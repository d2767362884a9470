"""Wake the outbox relay at commit: a PostgreSQL notification per writing transaction.

A writer that adds outbox rows calls `notify_relay(conn, table)` once in the same transaction;
PostgreSQL delivers the notification when (and only if) that transaction commits, and the relay
(`producers.outbox.wakeup`), which LISTENs on the channel, reads the new rows at once instead of
at its next idle poll. Notifications carry nothing (no payload) and are merged within one
transaction; a lost one only costs the relay's idle sleep. Other databases have no notifications:
there the relay polls, and this does nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection

from databus.outbox.table import check_table_name
from databus.pgdriver import execute

_NOTIFY = "SELECT pg_notify(%s, '')"


def notify_channel(table: str) -> str:
    """The notification channel of outbox `table` (at most 63 bytes, a PostgreSQL name)."""
    return f"databus_outbox_{check_table_name(table)}"


def notify_relay(conn: Connection, table: str) -> None:
    """Inside the writer's transaction: wake the relay of outbox `table` when it commits
    (PostgreSQL; elsewhere a no-op)."""
    if conn.dialect.name == "postgresql":  # through the driver: sent every batch
        execute(conn, _NOTIFY, notify_channel(table))
