"""Statements sent through the driver fail as SQLAlchemy's do (real PostgreSQL).

The population sync sends its per-batch reads, locks, savepoint and COPYs straight through
psycopg; the worker and the batch isolation tell an unavailable database (retried) from an
event's fault by SQLAlchemy's exceptions. A driver error that escaped unwrapped would be taken
for the event's fault and dead-letter a good event.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from databus.pgcopy import copy_rows
from databus.pgdriver import driver, execute, fetch
from databus.population.schema import applied_events, create_population_schema
from streams.population.isolation import batch_savepoint, is_infrastructure


@pytest.fixture
def engine(pg_url: str) -> Engine:
    engine = create_engine(pg_url)
    create_population_schema(engine)
    return engine


def test_a_bad_statement_is_a_sqlalchemy_error_and_not_infrastructure(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(DataError) as raised:
            fetch(conn, "SELECT 1 / %s", 0)
        assert not raised.value.connection_invalidated
        assert not is_infrastructure(raised.value)


def test_a_connection_killed_under_a_driver_statement_is_infrastructure(engine: Engine) -> None:
    with engine.connect() as conn, engine.connect() as killer:
        pid = fetch(conn, "SELECT pg_backend_pid()")[0][0]
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.commit()
        with pytest.raises(OperationalError) as raised:
            execute(conn, "SELECT pg_advisory_xact_lock(%s)", 42)
        assert raised.value.connection_invalidated
        assert is_infrastructure(raised.value)


def test_a_copy_refused_by_a_read_only_transaction_is_a_sqlalchemy_error(engine: Engine) -> None:
    row = {
        "event_id": "e",
        "pin": "001000000001",
        "event_type": "BirthRegistered",
        "source": "VN/GOV/BTP/hotich",
        "change_type": "CREATED",
        "outcome": "applied",
        "version": 1,
        "occurred_at": None,
        "applied_at": None,
    }
    with engine.connect() as conn:
        conn.execute(text("SET TRANSACTION READ ONLY"))
        with pytest.raises(DBAPIError) as raised:
            copy_rows(driver(conn), applied_events, [row])
        assert getattr(raised.value.orig, "sqlstate", None) == "25006"


def test_the_batch_savepoint_undoes_a_failed_run_and_keeps_a_good_one(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE marks (n int)"))
        with pytest.raises(DataError), batch_savepoint(conn):
            execute(conn, "INSERT INTO marks VALUES (1)")
            fetch(conn, "SELECT 1 / %s", 0)  # the transaction is now failed: only the
            # rollback to the savepoint brings it back
        with batch_savepoint(conn):
            execute(conn, "INSERT INTO marks VALUES (2)")
        assert [r[0] for r in conn.execute(text("SELECT n FROM marks"))] == [2]


def test_the_blocks_error_is_raised_when_the_savepoint_cannot_be_rolled_back(
    engine: Engine,
) -> None:
    class EventBugError(Exception):
        pass

    with engine.connect() as conn, engine.connect() as killer:
        pid = fetch(conn, "SELECT pg_backend_pid()")[0][0]
        with pytest.raises(EventBugError), batch_savepoint(conn):
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killer.commit()
            raise EventBugError
