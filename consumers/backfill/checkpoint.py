"""The backfill's progress, kept in the sector database next to the rows it describes.

One row per sector in `sector_backfill`: the sector topic's end offsets recorded when the run
began (the point the sink must continue from), the last PIN written, and the state:

- `loading`: rows are being written; each batch advances `last_pin` in the transaction that
  writes the batch, so a killed run resumes after the last committed PIN;
- `loaded`: every citizen is written, the offsets are not yet committed for the sink's group;
- `done`: handed over to the sink.

A resumed run keeps the offsets of the first one: the rows written before the kill came from
a snapshot taken after those offsets were recorded, so the sink continuing from them misses
nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

LOADING = "loading"
LOADED = "loaded"
DONE = "done"

metadata = MetaData()
sector_backfill = Table(
    "sector_backfill",
    metadata,
    Column("sector", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("offsets", Text, nullable=False),
    Column("last_pin", String(12)),
    Column("rows_written", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Checkpoint:
    """Where a sector's backfill stands."""

    sector: str
    state: str
    topic: str
    offsets: dict[int, int]
    last_pin: str | None
    rows_written: int
    started_at: datetime

    @property
    def unfinished(self) -> bool:
        """Whether a run began and was not handed over yet."""
        return self.state in (LOADING, LOADED)


def create_checkpoint_schema(engine: Engine) -> None:
    """Create the checkpoint table if missing."""
    metadata.create_all(engine)


def load(conn: Connection, sector: str) -> Checkpoint | None:
    """The sector's checkpoint, if a backfill ever ran."""
    row = conn.execute(select(sector_backfill).where(sector_backfill.c.sector == sector)).first()
    if row is None:
        return None
    return Checkpoint(
        sector=row.sector,
        state=row.state,
        topic=row.topic,
        offsets={int(p): int(o) for p, o in json.loads(row.offsets).items()},
        last_pin=row.last_pin,
        rows_written=int(row.rows_written),
        started_at=row.started_at,
    )


def begin(conn: Connection, sector: str, topic: str, offsets: dict[int, int]) -> Checkpoint:
    """Start a new run (replacing a finished one) from these recorded end offsets."""
    now = datetime.now(UTC)
    conn.execute(delete(sector_backfill).where(sector_backfill.c.sector == sector))
    conn.execute(
        insert(sector_backfill).values(
            sector=sector,
            state=LOADING,
            topic=topic,
            offsets=json.dumps({str(p): o for p, o in sorted(offsets.items())}),
            last_pin=None,
            rows_written=0,
            started_at=now,
            updated_at=now,
        )
    )
    return Checkpoint(sector, LOADING, topic, dict(offsets), None, 0, now)


def advance(conn: Connection, sector: str, last_pin: str, rows: int) -> None:
    """Record a written batch (call inside the transaction that wrote it)."""
    conn.execute(
        update(sector_backfill)
        .where(sector_backfill.c.sector == sector)
        .values(
            last_pin=last_pin,
            rows_written=sector_backfill.c.rows_written + rows,
            updated_at=datetime.now(UTC),
        )
    )


def set_state(conn: Connection, sector: str, state: str) -> None:
    """Move the run to `state` (LOADED, DONE)."""
    conn.execute(
        update(sector_backfill)
        .where(sector_backfill.c.sector == sector)
        .values(state=state, updated_at=datetime.now(UTC))
    )
