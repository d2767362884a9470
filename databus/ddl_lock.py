"""One DDL transaction at a time: several workers starting together create their tables once.

`CREATE TABLE IF NOT EXISTS` (and SQLAlchemy's `create_all`, which checks and then creates) is
not safe against a concurrent twin on PostgreSQL: the second fails on a unique index of the
catalog. Every component that creates its tables at start-up does it inside
`schema_transaction`, which holds a transaction-level advisory lock of its own (a negative key,
which no citizen lock uses), so the workers of a group take turns and the later ones find the
tables made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import Connection, Engine, text

DDL_LOCK_KEY: Final = -0x64617461627573
"""The advisory-lock key of the bus's DDL ("databus"; negative: PIN keys are positive)."""


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the DDL lock on PostgreSQL (elsewhere a plain transaction)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK_KEY})
        yield conn
