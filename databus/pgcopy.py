"""Fast bulk insert into PostgreSQL: rows formatted as COPY text in Python, sent in one stream.

psycopg's `Copy.write_row` adapts value by value through its dumpers; for the narrow set of
types our tables use, formatting the COPY text ourselves (one formatter per column, chosen once
per call from the SQLAlchemy column type) is several times cheaper. JSON values are serialised
with pydantic-core's Rust encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import JSON, Boolean, LargeBinary, Table
from sqlalchemy.dialects import postgresql

Formatter = Callable[[Any], str]

NULL = "\\N"
_CHUNK = 1 << 20
"""Bytes of COPY text sent at a time."""


def _text(value: Any) -> str:
    text = value if type(value) is str else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _json(value: Any) -> str:
    """A JSON value (None is JSON null, as SQLAlchemy's JSON type stores it). JSON text has no
    raw control characters; only its backslashes need escaping for COPY."""
    return to_json(value).decode().replace("\\", "\\\\")


def _bytes(value: bytes) -> str:
    return "\\\\x" + value.hex()


def _bool(value: bool) -> str:
    return "t" if value else "f"


def _time_formatter() -> Formatter:
    """ISO text of dates and times; the rows of one COPY share a few instants (a batch's time,
    each event's), so each formatter remembers the last one (one formatter per COPY: no state
    is shared between threads)."""
    last: list[Any] = [None, ""]

    def iso(value: date | datetime) -> str:
        if value is not last[0]:
            last[0], last[1] = value, value.isoformat()
        return str(last[1])

    return iso


def formatter_for(column_type: Any) -> Formatter:
    """A COPY text formatter for values of a SQLAlchemy column type (a new one each call)."""
    if isinstance(column_type, JSON):
        return _json
    if isinstance(column_type, LargeBinary):
        return _bytes
    if isinstance(column_type, Boolean):
        return _bool
    python_type = _python_type(column_type)
    if python_type in (datetime, date):
        return _time_formatter()
    if python_type is int:
        return str
    return _text


def _python_type(column_type: Any) -> type | None:
    try:
        found = column_type.python_type
    except NotImplementedError:
        return None
    return found if isinstance(found, type) else None


def copy_text(
    table: Table, names: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> Iterable[str]:
    """COPY text lines of `rows` (values under `names`) for `table`."""
    columns = [(name, formatter_for(table.c[name].type.dialect_impl(_PG))) for name in names]
    json_null = {name for name in names if isinstance(table.c[name].type, JSON)}
    for row in rows:
        yield (
            "\t".join(
                NULL if (value := row[name]) is None and name not in json_null else fmt(value)
                for name, fmt in columns
            )
            + "\n"
        )


def copy_rows(
    driver_connection: Any, table: Table, rows: Sequence[Mapping[str, Any]], *, name: str = ""
) -> None:
    """COPY `rows` (all with the same keys) into `table` (or the table called `name`) through a
    psycopg connection, inside its current transaction. The text is made before the COPY
    starts, so the server never waits on Python mid-statement."""
    if not rows:
        return
    names = list(rows[0])
    text = "".join(copy_text(table, names, rows))
    statement = f"COPY {name or table.name} ({', '.join(names)}) FROM STDIN"
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, len(text), _CHUNK):
            copy.write(text[start : start + _CHUNK])


_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
