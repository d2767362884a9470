"""How far behind an outbox is: unpublished rows and the age of the oldest, by the DB's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table, func, select

from databus.outbox.table import DEFAULT_TABLE, outbox_table, utc_now


@dataclass(frozen=True, slots=True)
class Backlog:
    """Unpublished rows and the age in seconds of the oldest (0 when there are none)."""

    rows: int
    oldest_age_seconds: float


def backlog(conn: Connection, table: str | Table = DEFAULT_TABLE) -> Backlog:
    """Measure the backlog with one query on the unpublished-rows index (no commit)."""
    t = outbox_table(table) if isinstance(table, str) else table
    row = conn.execute(
        select(func.count(), func.min(t.c.created_at), utc_now()).where(t.c.published_at.is_(None))
    ).one()
    count: int = row[0] or 0
    oldest: datetime | None = row[1]
    now: datetime | None = row[2]
    if not count or oldest is None or now is None:
        return Backlog(count, 0.0)
    return Backlog(count, max(0.0, (now - oldest).total_seconds()))
