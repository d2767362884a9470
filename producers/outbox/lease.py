"""One relay per outbox: a lease held for as long as the relay runs.

- PostgreSQL: a session-level `pg_try_advisory_lock` on the relay's own connection (the one it
  reads and marks rows with). If that session dies, the lock dies with it, and the relay cannot
  mark anything more until it has reconnected and taken the lease again.
- MariaDB: `GET_LOCK(name, 0)` on that same connection, with the same property.
- SQLite: an exclusive `flock` on a lock file next to the database file
  (`<database>-<table>.relay-lock`); the kernel drops it when the process dies, even on SIGKILL.
  It is sound on a local file system (as SQLite itself requires); for an in-memory database,
  which only its own process can see, a lock inside the process serves.

A relay that finds the lease taken waits (a standby) or gives up, as it was told.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text


class LeaseHeldError(RuntimeError):
    """Another relay holds the lease of this outbox."""

    def __init__(self, table: str) -> None:
        super().__init__(
            f"another outbox relay holds the lease of outbox {table!r}; "
            "only one relay per outbox may run at a time"
        )
        self.table = table


class Lease(Protocol):
    """The right to publish one outbox, tied to a connection or a file."""

    def try_acquire(self, conn: Connection) -> bool:
        """Take the lease without waiting; True when this relay now holds it."""
        ...

    def release(self, conn: Connection | None) -> None:
        """Give the lease back (`conn` is None when the connection is already gone)."""
        ...


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(("databus-outbox-relay", *parts)).encode()).digest()


class PostgresLease:
    """Session-level advisory lock, keyed by the table name (advisory keys are per database)."""

    def __init__(self, table: str) -> None:
        self.key = int.from_bytes(_digest(table)[:8], "big", signed=True)

    def try_acquire(self, conn: Connection) -> bool:
        with conn.begin():
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        return bool(got)

    def release(self, conn: Connection | None) -> None:
        if conn is not None:
            with conn.begin():
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})


class MariaDBLease:
    """`GET_LOCK` named after the database and table (MariaDB's lock names are server-wide)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.name: str | None = None

    def try_acquire(self, conn: Connection) -> bool:
        with conn.begin():
            if self.name is None:
                database = conn.execute(text("SELECT DATABASE()")).scalar() or ""
                self.name = "databus-outbox:" + _digest(str(database), self.table).hex()[:40]
            got = conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": self.name}).scalar()
        return got == 1

    def release(self, conn: Connection | None) -> None:
        if conn is not None and self.name is not None:
            with conn.begin():
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": self.name})


_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


class FileLease:
    """An exclusive `flock` on a lock file (SQLite), or a process lock for in-memory databases."""

    def __init__(self, database: str | None, table: str) -> None:
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self._memory: threading.Lock | None = None
        self._held = False
        if database and database != ":memory:" and not database.startswith("file::memory:"):
            self.path = Path(f"{database}-{table}.relay-lock")
        else:
            with _MEMORY_GUARD:
                self._memory = _MEMORY_LOCKS.setdefault(f"{database}:{table}", threading.Lock())

    def try_acquire(self, conn: Connection) -> bool:
        if self._memory is not None:
            self._held = self._memory.acquire(blocking=False)
            return self._held
        assert self.path is not None
        handle = self.path.open("a+", encoding="ascii")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")  # for people: which process holds it
        handle.flush()
        self._file = handle
        return True

    def release(self, conn: Connection | None) -> None:
        if self._memory is not None:
            if self._held:
                self._held = False
                self._memory.release()
            return
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def lease_for(engine: Engine, table: str) -> Lease:
    """The lease kind of the engine's database."""
    name = engine.dialect.name
    if name == "postgresql":
        return PostgresLease(table)
    if name in ("mysql", "mariadb"):
        return MariaDBLease(table)
    if name == "sqlite":
        return FileLease(engine.url.database, table)
    raise ValueError(f"no outbox lease for the {name!r} dialect")
