"""Fast bulk insert into PostgreSQL: rows formatted as COPY text in Python, sent in one stream.

psycopg's `Copy.write_row` adapts value by value through its dumpers; for the narrow set of
types our tables use, formatting the COPY text ourselves (one formatter per column, chosen once
per call from the SQLAlchemy column type) is several times cheaper. JSON values are serialised
with pydantic-core's Rust encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from pydantic_core import to_json
from sqlalchemy import JSON, Boolean, LargeBinary, Table
from sqlalchemy.dialects import postgresql

from databus.pgdriver import sqlalchemy_errors

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
    line = _line_maker(table, tuple(names))()
    for row in rows:
        yield line(row)


@lru_cache(maxsize=256)  # bounded: a caller may make tables on the fly
def _line_maker(table: Table, names: tuple[str, ...]) -> Callable[[], Callable[[Any], str]]:
    """A factory of COPY line formatters for rows of `table` with values under `names`: one
    function per (table, names) made once, with every column's formatting inlined (no loop
    over the columns, no call but the formatter's own). Each call of the factory makes new
    formatters, so the time formatters' memory is never shared between two COPYs."""
    formatters = [formatter_for(table.c[name].type.dialect_impl(_PG)) for name in names]
    kinds = []
    for name, fmt in zip(names, formatters, strict=True):
        nullable = not isinstance(table.c[name].type, JSON)  # JSON None is JSON null
        if fmt is str:
            kind = "str"
        elif fmt is _text:
            kind = "text"
        elif fmt is _json or fmt is _bytes or fmt is _bool:
            kind = fmt.__name__
        else:
            kind = "time"
        kinds.append((nullable, kind))
    body = []
    for i, (name, (nullable, kind)) in enumerate(zip(names, kinds, strict=True)):
        value = f"v{i}"
        call = f"f{i}({value})"
        if kind == "text":  # most text needs no escaping: no call then
            call = (
                f"({value} if type({value}) is str and {value}.isprintable() "
                f"and BACKSLASH not in {value} else _text({value}))"
            )
        body.append(f"        {value} = row[{name!r}]")
        body.append(
            f"        s{i} = " + (f"NULL if {value} is None else {call}" if nullable else call)
        )
    fields = "\\t".join(f"{{s{i}}}" for i in range(len(names)))
    arguments = ", ".join(f"f{i}" for i in range(len(names)))
    source = (
        f"def make({arguments}):\n"
        "    def line(row):\n" + "\n".join(body) + f'\n        return f"{fields}\\n"\n'
        "    return line\n"
    )
    scope: dict[str, Any] = {"NULL": NULL, "_text": _text, "BACKSLASH": "\\"}
    exec(compile(source, f"<copy line {table.name}>", "exec"), scope)
    make = scope["make"]
    timed = [i for i, (_, kind) in enumerate(kinds) if kind == "time"]

    def factory() -> Callable[[Any], str]:
        fresh = list(formatters)
        for i in timed:
            fresh[i] = _time_formatter()
        line: Callable[[Any], str] = make(*fresh)
        return line

    return factory


def copy_rows(
    driver_connection: Any,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    name: str = "",
    names: Sequence[str] | None = None,
) -> None:
    """COPY `rows` into `table` (or the table called `name`) through a psycopg connection,
    inside its current transaction: the columns `names` (default: the first row's keys; the
    rows may hold other keys, left out). The text is made before the COPY starts, so the
    server never waits on Python mid-statement. The driver's errors are raised as SQLAlchemy's
    (`databus.pgdriver.sqlalchemy_errors`)."""
    if not rows:
        return
    columns = tuple(rows[0] if names is None else names)
    line = _line_maker(table, columns)()
    text = "".join([line(row) for row in rows])
    statement = f"COPY {name or table.name} ({', '.join(columns)}) FROM STDIN"
    with (
        sqlalchemy_errors(driver_connection, statement),
        driver_connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for start in range(0, len(text), _CHUNK):
            copy.write(text[start : start + _CHUNK])


_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def insert_rows(
    driver_connection: Any,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    names: Sequence[str] | None = None,
    suffix: str = "",
) -> None:
    """INSERT `rows` storing what `copy_rows` would COPY, in one statement: the rows travel as
    one JSON array (pydantic-core's encoder) that `jsonb_populate_recordset` reads with each
    column's input function, as COPY reads its text (a JSON column's None is JSON null, as in
    COPY). In a pipeline (`databus.pgdriver.pipeline`) it costs no round trip of its own, where
    a COPY costs two, and one statement costs the driver far less than one per row. For small
    batches. Tables with columns of other types (binary, numbers other than integers) get one
    statement per row. `suffix` follows the statement (e.g. an ON CONFLICT: the rows' keys
    must then be distinct, as one statement may not update a row twice)."""
    if not rows:
        return
    columns = tuple(rows[0] if names is None else names)
    statement, convert = _insert_maker(table, columns, suffix)
    if convert is None:
        if len(rows[0]) != len(columns):  # other keys (kept in memory by the caller) stay out
            rows = [{name: row[name] for name in columns} for row in rows]
        params: Any = (to_json(rows).decode(),)
        with sqlalchemy_errors(driver_connection, statement), driver_connection.cursor() as cur:
            cur.execute(statement, params)
        return
    params = [convert(row) for row in rows]
    with sqlalchemy_errors(driver_connection, statement), driver_connection.cursor() as cursor:
        cursor.executemany(statement, params)


def _as_text(value: Any) -> Any:
    return value if value is None or type(value) is str else str(value)


def _as_json(value: Any) -> str:
    return to_json(value).decode()


@lru_cache(maxsize=256)  # bounded: a caller may make tables on the fly
def _insert_maker(
    table: Table, names: tuple[str, ...], suffix: str
) -> tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]] | None]:
    """The INSERT statement of `names` into `table` and, when it takes one row at a time (a
    column that JSON does not carry as COPY text would: binary, numbers other than integers,
    a type of unknown text form), the conversion of a row to its parameters; None when it
    takes every row at once, as JSON."""
    kinds = [formatter_for(table.c[name].type.dialect_impl(_PG)) for name in names]
    if not any(
        kind is _bytes or (kind is _text and not _is_text(table, name))
        for name, kind in zip(names, kinds, strict=True)
    ):
        selected = [
            f"coalesce({name}, 'null')" if kind is _json else name
            for name, kind in zip(names, kinds, strict=True)
        ]
        statement = (
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(selected)} "
            f"FROM jsonb_populate_recordset(NULL::{table.name}, %s::jsonb)"
            + (f" {suffix}" if suffix else "")
        )
        return statement, None
    placeholders: list[str] = []
    converters: list[Callable[[Any], Any] | None] = []
    for kind in kinds:
        if kind is _json:
            placeholders.append("%s::jsonb")
            converters.append(_as_json)
        elif kind is _text:
            placeholders.append("%s")
            converters.append(_as_text)
        else:
            placeholders.append("%s")
            converters.append(None)
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(placeholders)})"
        + (f" {suffix}" if suffix else "")
    )
    pairs = list(zip(names, converters, strict=True))

    def convert(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[n] if c is None else c(row[n]) for n, c in pairs)

    return statement, convert


def _is_text(table: Table, name: str) -> bool:
    """Whether a column COPY writes as text holds text (not numbers, which JSON would write
    otherwise, nor any type of unknown text form)."""
    return _python_type(table.c[name].type) is str
