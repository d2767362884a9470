"""Statements sent straight through psycopg under a SQLAlchemy connection, failing as SQLAlchemy.

Hot paths send some statements through the driver connection, in the caller's transaction: COPY,
and the few statements of every batch where SQLAlchemy's own handling of a statement (about
0.2 ms of CPU) costs more than the statement. Their errors are raised as SQLAlchemy raises them
(`DBAPIError` and its subclasses, `connection_invalidated` when the connection broke), so callers
tell an unavailable database (retried) from a bad batch exactly as for any other statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def driver(conn: Connection) -> Any:
    """The DB-API (psycopg) connection under `conn`, inside the same transaction."""
    return conn.connection.driver_connection


@contextmanager
def sqlalchemy_errors(raw: Any, statement: str) -> Iterator[None]:
    """Raise the driver's errors inside the block as SQLAlchemy would for `statement`."""
    try:
        yield
    except psycopg.Error as error:
        raise DBAPIError.instance(
            statement, None, error, psycopg.Error, connection_invalidated=bool(raw.broken)
        ) from error


def fetch(conn: Connection, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of `statement` (psycopg `%s` placeholders) run through the driver."""
    raw = driver(conn)
    with sqlalchemy_errors(raw, statement), raw.cursor() as cursor:
        rows: list[tuple[Any, ...]] = cursor.execute(statement, params).fetchall()
        return rows


def execute(conn: Connection, statement: str, *params: Any) -> None:
    """Run `statement` through the driver, its result (if any) read and dropped."""
    raw = driver(conn)
    with sqlalchemy_errors(raw, statement), raw.cursor() as cursor:
        cursor.execute(statement, params or None)


@contextmanager
def pipeline(conn: Connection) -> Iterator[None]:
    """Send the driver statements of the block in one pipeline: one round trip for them all
    (their results, and errors, arrive when the block ends). No COPY inside."""
    raw = driver(conn)
    with sqlalchemy_errors(raw, "pipeline"), raw.pipeline():
        yield


def pipelining(conn: Connection) -> bool:
    """Whether the driver connection of `conn` is in a pipeline now."""
    return bool(driver(conn).pgconn.pipeline_status)
