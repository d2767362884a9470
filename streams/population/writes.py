"""How a population batch's rows reach their tables: bulk inserts (`append_rows`) and the
one upsert of the citizens a batch changed (`upsert_citizens`), on PostgreSQL through the
driver (COPY, or one INSERT of JSON rows inside a pipeline), elsewhere through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, MetaData, Table, insert, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from databus.pgcopy import copy_rows, insert_rows
from databus.pgdriver import driver, execute, pipelining
from databus.population.schema import citizens


def append_rows(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    names: Sequence[str] | None = None,
) -> None:
    """Insert rows (all with the same keys; the columns `names` of them if given): one COPY
    on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        if names is not None:
            rows = [{name: row[name] for name in names} for row in rows]
        conn.execute(insert(table), rows)
        return
    if pipelining(conn):  # a small batch: no COPY in a pipeline
        insert_rows(driver(conn), table, rows, names=names)
    else:
        copy_rows(driver(conn), table, rows, names=names)


_CITIZENS_STAGE = citizens.to_metadata(MetaData(), name="citizens_stage")
_STAGE_CITIZENS = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS citizens_stage "
    "(LIKE citizens INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_ON_CONFLICT_CITIZENS = (
    "ON CONFLICT (pin) DO UPDATE SET version = excluded.version, record = excluded.record, "
    "field_times = excluded.field_times, deceased = excluded.deceased, "
    "updated_at = excluded.updated_at"
)
_UPSERT_CITIZENS = f"INSERT INTO citizens SELECT * FROM citizens_stage {_ON_CONFLICT_CITIZENS}"


def upsert_citizens(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write the citizens a batch changed, new or not, in one statement."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and pipelining(conn):  # a small batch
        insert_rows(driver(conn), citizens, rows, suffix=_ON_CONFLICT_CITIZENS)
        return
    if conn.dialect.name == "postgresql":  # COPY into a session-local stage, then one upsert
        execute(conn, _STAGE_CITIZENS)
        append_rows(conn, _CITIZENS_STAGE, rows)
        execute(conn, _UPSERT_CITIZENS)
        return
    if conn.dialect.name == "sqlite":
        upsert = sqlite_insert(citizens)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[citizens.c.pin],
                set_={name: upsert.excluded[name] for name in rows[0] if name != "pin"},
            ),
            rows,
        )
        return
    for row in rows:  # any other database: one statement per citizen
        found = conn.execute(update(citizens).where(citizens.c.pin == row["pin"]).values(**row))
        if not found.rowcount:
            conn.execute(insert(citizens), row)
