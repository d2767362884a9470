"""Our COPY text writer, and its small-batch twin `insert_rows` (one statement of JSON rows, or
one per row where a column is binary), store exactly what psycopg's own row adaptation stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DataError, IntegrityError

from databus.pgcopy import copy_rows, insert_rows
from databus.pgdriver import pipeline, pipelining
from databus.population.schema import Json

METADATA = sa.MetaData()
SAMPLES = sa.Table(
    "pgcopy_samples",
    METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("note", sa.Text),
    sa.Column("doc", Json),
    sa.Column("body", sa.LargeBinary),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("day", sa.Date),
)

TEXTUAL = sa.Table(  # no binary column: insert_rows sends all rows in one statement
    "pgcopy_textual",
    METADATA,
    *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in SAMPLES.c if c.name != "body"),
)
TABLES = {"with binary": SAMPLES, "textual": TEXTUAL}

TRICKY = [
    "plain",
    "Nguyễn Thị Ánh",
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "ends with backslash\\",
    "quote \" and ' and \\t literal",
    "",
]


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    base = datetime(2025, 7, 1, 8, 30, 15, 123456, tzinfo=UTC)
    for i, text in enumerate(TRICKY):
        rows.append(
            {
                "id": i,
                "name": text,
                "note": None if i % 3 == 0 else text * 2,
                "doc": {"text": text, "list": [text, i, None, 1.5], "nested": {"k": text}}
                if i % 4
                else None,
                "body": bytes(range(i * 7 % 256, i * 7 % 256 + 20)),
                "flag": i % 2 == 0,
                "at": base + timedelta(days=i)
                if i % 2
                else base.astimezone(timezone(timedelta(hours=7))),
                "day": date(2024, 2, 29) + timedelta(days=i),
            }
        )
    return rows


def _stored(engine: sa.Engine, table: sa.Table = SAMPLES) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def _write_otherwise(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], how: str
) -> None:
    raw = conn.connection.driver_connection
    if how == "psycopg's adaptation":
        conn.execute(sa.insert(table), rows)
    elif how == "insert_rows in a pipeline":
        with pipeline(conn):
            assert pipelining(conn)
            insert_rows(raw, table, rows)
        assert not pipelining(conn)
    else:
        insert_rows(raw, table, rows)


def _sql_null_docs(engine: sa.Engine, table: sa.Table) -> int:
    """Rows whose JSON column is SQL NULL (reading gives None for it and for JSON null)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(f"SELECT count(*) FROM {table.name} WHERE doc IS NULL")
            ).scalar_one()
        )


WRITERS = ["psycopg's adaptation", "insert_rows", "insert_rows in a pipeline"]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("how", WRITERS)
def test_copy_rows_stores_what_the_other_writers_store(pg_url: str, how: str, table: str) -> None:
    engine = sa.create_engine(pg_url)
    METADATA.create_all(engine)
    into = TABLES[table]
    rows = [{k: v for k, v in row.items() if k in into.c} for row in _rows()]
    with engine.begin() as conn:
        copy_rows(conn.connection.driver_connection, into, rows)
    ours = _stored(engine, into)
    our_nulls = _sql_null_docs(engine, into)
    with engine.begin() as conn:
        conn.execute(into.delete())
        _write_otherwise(conn, into, rows, how)
    theirs = _stored(engine, into)
    assert _sql_null_docs(engine, into) == our_nulls == 0  # a JSON None is JSON null
    engine.dispose()
    assert ours == theirs
    assert ours[0][3] is None or ours[0][3] == {}  # a JSON None is JSON null on both paths
    assert [r[1] for r in ours] == TRICKY


def test_copy_rows_into_a_named_table_and_large_batches(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE pgcopy_other (LIKE pgcopy_samples)"))
    rows = [{"id": i, "note": "x" * 500, "flag": True} for i in range(5000)]  # > one chunk
    with engine.begin() as conn:
        copy_rows(conn.connection.driver_connection, SAMPLES, rows, name="pgcopy_other")
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*), sum(length(note)) FROM pgcopy_other")).one()
    engine.dispose()
    assert tuple(count) == (5000, 5000 * 500)


_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.parametrize("table", TABLES)
def test_any_text_and_json_are_stored_alike_by_copy_and_pipelined_inserts(
    pg_url: str, table: str
) -> None:
    engine = sa.create_engine(pg_url)
    METADATA.create_all(engine)
    into = TABLES[table]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        texts=st.lists(_TEXT, min_size=1, max_size=4), docs=st.lists(_JSON, min_size=1, max_size=4)
    )
    def stored_alike(texts: list[str], docs: list[object]) -> None:
        rows = [
            {"id": i, "name": t, "note": texts[-1 - i], "doc": docs[i % len(docs)]}
            for i, t in enumerate(texts)
        ]
        with engine.begin() as conn:
            conn.execute(into.delete())
            copy_rows(conn.connection.driver_connection, into, rows)
        copied = _stored(engine, into)
        with engine.begin() as conn:
            conn.execute(into.delete())
            with pipeline(conn):
                insert_rows(conn.connection.driver_connection, into, rows)
        assert _stored(engine, into) == copied

    stored_alike()
    engine.dispose()


@pytest.mark.parametrize("table", TABLES)
def test_a_failed_insert_in_a_pipeline_is_a_sqlalchemy_error(pg_url: str, table: str) -> None:
    engine = sa.create_engine(pg_url)
    METADATA.create_all(engine)
    with engine.connect() as conn, pytest.raises(IntegrityError), pipeline(conn):
        insert_rows(conn.connection.driver_connection, TABLES[table], [{"id": 1}, {"id": 1}])
    engine.dispose()


@pytest.mark.parametrize("writer", [copy_rows, insert_rows])
def test_text_longer_than_its_column_fails_on_both_paths(pg_url: str, writer: Any) -> None:
    engine = sa.create_engine(pg_url)
    METADATA.create_all(engine)
    with engine.connect() as conn, pytest.raises(DataError):
        writer(conn.connection.driver_connection, TEXTUAL, [{"id": 1, "name": "x" * 201}])
    engine.dispose()


def test_insert_rows_with_a_suffix_upserts(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    METADATA.create_all(engine)
    upsert = "ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc"
    with engine.begin() as conn:
        conn.execute(TEXTUAL.delete())
        raw = conn.connection.driver_connection
        insert_rows(raw, TEXTUAL, [{"id": 1, "name": "first", "doc": None}])
        with pipeline(conn):
            insert_rows(
                raw,
                TEXTUAL,
                [{"id": 1, "name": "second", "doc": [1]}, {"id": 2, "name": "new", "doc": {}}],
                suffix=upsert,
            )
    assert [(r[0], r[1], r[3]) for r in _stored(engine, TEXTUAL)] == [
        (1, "second", [1]),
        (2, "new", {}),
    ]
    engine.dispose()
