"""Which failures stop the population sync, and the test hook that provokes the others.

An unexpected error while applying one event must never stop the bus: the engine isolates the
event (its batch runs again without it, inside a savepoint) and dead-letters it `apply_failed`
with the exception's type. Only failures of infrastructure that a retry may cure (the database
connection, a server shutting down, a serialization conflict) propagate, so that the worker
retries them with backoff.

`FaultInjector` is a test hook, off unless `DATABUS_SYNC_FAULT_EVENT_IDS` names event ids: the
engine then raises `InjectedFaultError` while applying each of them, as an unforeseen bug would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from databus.pgdriver import execute
from schemas.models.envelope import Event

FAULT_ENV: Final = "DATABUS_SYNC_FAULT_EVENT_IDS"
_RETRYABLE_SQLSTATES = ("08", "40", "53", "57", "58")
"""Connection exceptions, transaction rollbacks (serialization, deadlock), insufficient
resources, operator intervention (shutdown), system errors."""


def is_infrastructure(error: BaseException) -> bool:
    """Whether `error` is a database failure a retry may cure (never an event's fault)."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError)):
        return True
    code = getattr(error.orig, "sqlstate", None) or ""
    return str(code).startswith(_RETRYABLE_SQLSTATES)


_SAVEPOINT = "population_batch"


@contextmanager
def batch_savepoint(conn: Connection) -> Iterator[None]:
    """A savepoint around one run of a batch: rolled back if the block raises, else released.

    On PostgreSQL its statements go through the driver (`databus.pgdriver`): SQLAlchemy's
    nested transaction cost about 0.4 ms of CPU a batch. If the rollback itself fails (the
    connection is gone), the block's error is raised all the same.
    """
    if conn.dialect.name != "postgresql":
        with conn.begin_nested():
            yield
        return
    execute(conn, f"SAVEPOINT {_SAVEPOINT}")
    try:
        yield
    except BaseException:
        with suppress(DBAPIError):  # the connection is gone: the block's error says more
            execute(conn, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        raise
    execute(conn, f"RELEASE SAVEPOINT {_SAVEPOINT}")


class InjectedFaultError(RuntimeError):
    """The error `FaultInjector` raises (a test hook standing for an unforeseen bug)."""


@dataclass(frozen=True)
class FaultInjector:
    """Raises `InjectedFaultError` while the engine applies one of `event_ids` (tests only)."""

    event_ids: frozenset[str]

    @classmethod
    def from_env(cls) -> FaultInjector | None:
        """The injector `DATABUS_SYNC_FAULT_EVENT_IDS` (comma-separated ids) asks for, or None
        (production: the variable is unset)."""
        ids = frozenset(i.strip() for i in os.environ.get(FAULT_ENV, "").split(",") if i.strip())
        return cls(ids) if ids else None

    def check(self, event: Event) -> None:
        if str(event.event_id) in self.event_ids:
            raise InjectedFaultError("fault injected by the test hook")
