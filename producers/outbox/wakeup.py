"""How an idle relay waits for new rows: woken at commit on PostgreSQL, polling elsewhere.

On PostgreSQL the relay LISTENs, on a dedicated autocommit connection, on the outbox's channel
(`databus.outbox.notify_channel`); writers that call `databus.outbox.notify_relay` in their
transaction wake it the moment they commit. The idle sleep stays as the longest wait, so rows of
a writer that does not notify, or a notification lost with a broken connection, cost at most
that. LISTEN is issued before the relay's first scan, so a commit after a scan that found
nothing is never missed while the connection lives. Other databases (MariaDB, SQLite) and
drivers without notifications poll.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from databus.outbox import notify_channel
from producers.outbox.diagnostics import describe_error

log = logging.getLogger(__name__)

STOP_CHECK = 0.25
"""Longest stretch a notification wait goes without looking at the stop event."""
RETRY_LISTEN = 5.0
"""Seconds before a broken listening connection is opened again (polling meanwhile)."""


class Wakeup(Protocol):
    """Waits of an idle relay."""

    def start(self) -> None:
        """Begin listening (before the first scan)."""
        ...

    def wait(self, stop: threading.Event, timeout: float) -> None:
        """Return when new rows may be there, after `timeout` s at most, or when stopped."""
        ...

    def close(self) -> None:
        """Stop listening."""
        ...


class Polling:
    """No notifications: sleep the idle sleep."""

    def start(self) -> None:
        pass

    def wait(self, stop: threading.Event, timeout: float) -> None:
        stop.wait(timeout)

    def close(self) -> None:
        pass


class PostgresListener:
    """LISTEN on the outbox's channel; a wait ends at the first notification."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine = engine
        self.table = table
        self.channel = notify_channel(table)
        self._conn: Connection | None = None
        self._driver: Any = None
        self._retry_at = 0.0

    def start(self) -> None:
        if self._conn is not None or time.monotonic() < self._retry_at:
            return
        conn: Connection | None = None
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            driver = conn.connection.driver_connection
            if not hasattr(driver, "notifies"):  # not psycopg 3: poll
                log.info("outbox %s: the driver has no notifications; polling", self.table)
                conn.close()
                self._retry_at = float("inf")
                return
            conn.execute(text(f'LISTEN "{self.channel}"'))
            self._conn, self._driver = conn, driver
        except (SQLAlchemyError, OSError) as exc:
            self._failed(conn, exc)

    def wait(self, stop: threading.Event, timeout: float) -> None:
        self.start()
        if self._driver is None:
            stop.wait(timeout)
            return
        deadline = time.monotonic() + timeout
        try:
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                for _ in self._driver.notifies(timeout=min(left, STOP_CHECK), stop_after=1):
                    return
        except Exception as exc:  # a broken connection: poll until it is open again
            self._failed(self._conn, exc)
            stop.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is not None:
            _discard(conn)

    def _failed(self, conn: Connection | None, exc: BaseException) -> None:
        log.warning(
            "outbox %s: listening for commits failed (%s); polling, listening again in %.0f s",
            self.table,
            describe_error(exc),
            RETRY_LISTEN,
        )
        self._conn, self._driver = None, None
        self._retry_at = time.monotonic() + RETRY_LISTEN
        if conn is not None:
            _discard(conn)


def _discard(conn: Connection) -> None:
    """Close for good: a listening session must not go back to the pool."""
    try:
        conn.invalidate()
        conn.close()
    except Exception:  # already broken: nothing left to release
        pass


def wakeup_for(engine: Engine, table: str) -> Wakeup:
    """The relay's idle wait for the engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresListener(engine, table)
    return Polling()
