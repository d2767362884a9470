"""Citizen locks: several population-sync workers in one consumer group stay correct.

Kafka keeps each citizen's own events in order on one partition, but an event changes other
citizens too (a birth adds a child to both parents, a marriage names the spouse, a
re-established PIN moves a citizen), and those citizens' events sit on other partitions, read
by other workers. Before a batch reads anything, its transaction takes a transaction-level
advisory lock (`pg_advisory_xact_lock`) on every PIN its events name, in ascending order; a PIN
reached later (through a PIN link, or loaded on demand) is locked before it is read. Two
batches that share a citizen therefore run one after the other, and the second reads what the
first committed: no lost update of a citizen, an event applied twice in a rebalance is seen as
applied, and an event parked for a PIN cannot miss the birth that releases it. Locks taken out
of order can deadlock: PostgreSQL then aborts one transaction (SQLSTATE 40P01) and the worker
retries its batch, like any serialization failure. The locks end with the transaction.

A 12-digit PIN is its own lock key (a bigint, no collisions); an event without a subject (a
reference-data event) locks the key of its event id in the two-key space, which the one-key
space never meets. SQLite (the embedded default) has one writer at a time and takes no lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

from sqlalchemy import Connection

from databus.pgdriver import execute

_LOCK_PINS = (
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(%s AS bigint[])) WITH ORDINALITY "
    "AS t(k, n) ORDER BY n"
)
_LOCK_EVENTS = (
    "SELECT pg_advisory_xact_lock(1, k) FROM unnest(CAST(%s AS integer[])) WITH ORDINALITY "
    "AS t(k, n) ORDER BY n"
)


def pin_key(pin: str) -> int:
    """The advisory-lock key of a PIN: the number itself for 12 digits, else a 63-bit hash."""
    if len(pin) == 12 and pin.isdigit():
        return int(pin)
    return int.from_bytes(blake2b(pin.encode(), digest_size=8).digest(), "big") >> 1


def event_key(event_id: str) -> int:
    """The advisory-lock key (two-key space) of an event without a subject."""
    return int.from_bytes(blake2b(event_id.encode(), digest_size=4).digest(), "big") >> 1


class CitizenLocks:
    """The PINs one transaction holds; `lock` takes those it does not hold yet."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.enabled = conn.dialect.name == "postgresql"
        self.held: set[int] = set()

    def lock(self, pins: Iterable[str]) -> None:
        """Lock these PINs (ascending), waiting for any transaction that holds one."""
        if not self.enabled:
            return
        keys = sorted({pin_key(p) for p in pins if p} - self.held)
        if keys:
            self._run(_LOCK_PINS, keys)
            self.held.update(keys)

    def holds(self, pin: str) -> bool:
        """Whether this transaction holds the lock of `pin` (always, without locks)."""
        return not self.enabled or pin_key(pin) in self.held

    def lock_events(self, event_ids: Iterable[str]) -> None:
        """Lock events that name no citizen (reference data), by their ids."""
        if not self.enabled:
            return
        keys = sorted({event_key(e) for e in event_ids})
        if keys:
            self._run(_LOCK_EVENTS, keys)

    def _run(self, query: str, keys: list[int]) -> None:
        execute(self.conn, query, keys)  # through the driver: sent every batch
