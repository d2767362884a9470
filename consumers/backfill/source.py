"""The population database as the source of a sector's expected rows.

`citizens` holds one row per current PIN: its version and the Citizen in JSON form. Streamed in
PIN order through a server-side cursor (one statement, so one consistent snapshot of the
database), each row becomes the sector row the sink would store for a projection of that
version: the same projection (`databus.projection.snapshot`) and the same stored form
(`consumers.sink.store.projection_row`, erasing deceased citizens where the sector says
`delete`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from consumers.sink.store import Row, projection_row
from databus.population.schema import citizens, pin_links
from databus.projection import Snapshot, snapshot
from databus.topology.model import Sector


@dataclass(frozen=True)
class CitizenRow:
    """One row of the population database's `citizens` table."""

    pin: str
    version: int
    record: Mapping[str, Any]


def count_citizens(conn: Connection, after: str | None = None) -> int:
    """How many citizens there are (after PIN `after`, in the database's PIN order)."""
    query = select(func.count()).select_from(citizens)
    if after is not None:
        query = query.where(citizens.c.pin > after)
    return int(conn.execute(query).scalar() or 0)


RECORD_TEXT = cast(citizens.c.record, Text).label("record")
"""The record as JSON text: decoding it here is several times faster than letting a driver
decode PostgreSQL's JSONB."""


def stream_raw(
    conn: Connection, *, after: str | None = None, ordered: bool = True, batch: int = 5000
) -> Iterator[tuple[str, int, str]]:
    """(PIN, version, record JSON text) of every citizen, in PIN order unless `ordered` is
    false (after PIN `after`), fetched `batch` rows at a time."""
    query = select(citizens.c.pin, citizens.c.version, RECORD_TEXT)
    if ordered:
        query = query.order_by(citizens.c.pin)
    if after is not None:
        query = query.where(citizens.c.pin > after)
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
    for row in result:
        yield row.pin, int(row.version), row.record


def stream_citizens(
    conn: Connection, *, after: str | None = None, ordered: bool = True, batch: int = 5000
) -> Iterator[CitizenRow]:
    """Like `stream_raw`, with the records decoded."""
    for pin, version, text in stream_raw(conn, after=after, ordered=ordered, batch=batch):
        yield CitizenRow(pin, version, json.loads(text))


def fetch_citizens(conn: Connection, pins: list[str]) -> dict[str, CitizenRow]:
    """The current rows of these PINs (those that are citizens)."""
    out: dict[str, CitizenRow] = {}
    for start in range(0, len(pins), 1000):
        chunk = pins[start : start + 1000]
        query = select(citizens.c.pin, citizens.c.version, RECORD_TEXT).where(
            citizens.c.pin.in_(chunk)
        )
        for row in conn.execute(query):
            out[row.pin] = CitizenRow(row.pin, int(row.version), json.loads(row.record))
    return out


def superseded_pins(conn: Connection) -> set[str]:
    """PINs that were re-established: their citizen lives on under a new PIN."""
    return set(conn.scalars(select(pin_links.c.old_pin)))


def expected_row(sector: Sector, citizen: CitizenRow, *, erase_deceased: bool) -> Row:
    """The row the sector's sink stores for a projection of this citizen's current version."""
    return expected(sector, citizen, erase_deceased=erase_deceased)[0]


def expected(sector: Sector, citizen: CitizenRow, *, erase_deceased: bool) -> tuple[Row, Snapshot]:
    """The expected sector row of a citizen, and the projection it was made from."""
    view = snapshot(sector, citizen.record)
    row = projection_row(
        citizen.pin, citizen.version, view.deceased, view.citizen, erase_deceased=erase_deceased
    )
    return row, view
