"""The relay's side of the outbox table: read the next unpublished rows, mark rows published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, or_, select, text, update

from databus.outbox.table import utc_now

MAX_RANGES = 32
"""Mark with up to this many `id BETWEEN a AND b` ranges; beyond, with `id IN (...)` chunks."""
IN_CHUNK = 500

# Walk the partial index in id order and stop after the batch. Without this, a table whose
# statistics lag behind a burst (un-analyzed: "a few rows") gets a bitmap scan of the whole
# backlog plus a sort, per batch: O(backlog) each time, exactly when the backlog is large.
_PG_INDEX_ORDER = text(
    "SELECT set_config('enable_bitmapscan', 'off', true), "
    "set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)"
)


class OutboxRows:
    """Reads a batch (or a probe of one row) in id order, and marks exactly the rows sent."""

    def __init__(self, table: Table, batch_size: int, postgres: bool) -> None:
        self.table = table
        self._postgres = postgres
        self._fetch_full = self._fetch_statement(batch_size)
        self._fetch_probe = self._fetch_statement(1)

    def next_rows(self, conn: Connection, *, probe: bool) -> Sequence[Row[Any]]:
        """The lowest unpublished rows: one when `probe`, else up to the batch size."""
        with conn.begin():
            if self._postgres:
                conn.execute(_PG_INDEX_ORDER)
            return conn.execute(self._fetch_probe if probe else self._fetch_full).all()

    def mark(self, conn: Connection, ids: list[int]) -> None:
        """Set published_at on exactly these rows, in one transaction."""
        t = self.table
        spans = runs(ids)
        unpublished = t.c.published_at.is_(None)
        with conn.begin():
            if len(spans) <= MAX_RANGES:
                ranges = [
                    t.c.id == first if first == last else t.c.id.between(first, last)
                    for first, last in spans
                ]
                cond = ranges[0] if len(ranges) == 1 else or_(*ranges)
                conn.execute(update(t).where(cond, unpublished).values(published_at=utc_now()))
            else:
                for start in range(0, len(ids), IN_CHUNK):
                    chunk = ids[start : start + IN_CHUNK]
                    conn.execute(
                        update(t)
                        .where(t.c.id.in_(chunk), unpublished)
                        .values(published_at=utc_now())
                    )

    def _fetch_statement(self, limit: int) -> Select[Any]:
        t = self.table
        return (
            select(
                t.c.id,
                t.c.topic,
                t.c.msg_key,
                t.c.event_id,
                t.c.event_type,
                t.c.schema_fingerprint,
                t.c.body,
            )
            .where(t.c.published_at.is_(None))
            .order_by(t.c.id)
            .limit(limit)
        )


def runs(ids: list[int]) -> list[tuple[int, int]]:
    """Ascending ids as runs of consecutive integers: [1,2,3,7,8] -> [(1,3),(7,8)]."""
    runs: list[tuple[int, int]] = []
    first = last = ids[0]
    for i in ids[1:]:
        if i == last + 1:
            last = i
        else:
            runs.append((first, last))
            first = last = i
    runs.append((first, last))
    return runs
