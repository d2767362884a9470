"""The outbox relay: publish outbox rows to Kafka in id order, then mark them published.

One loop turn:

1. SELECT the next `batch_size` unpublished rows ORDER BY id (a fresh scan from the lowest
   unpublished id every time, so a row whose transaction commits late is never skipped).
2. Produce each as `header + body` (header = magic byte + the registry id of its topic's subject
   and schema fingerprint), keyed by `msg_key`, with headers `event_id`, `event_type` and
   `outbox_id`, through an idempotent acks=all producer (ordered per partition, no duplicates
   from retries).
3. Wait for every delivery report of the batch.
4. In one transaction, set `published_at` on the longest prefix of the batch (in id order) whose
   rows were all delivered, naming exactly those ids (as ranges of consecutive ids: a range is
   never widened over an id the relay did not see, which could belong to a row committed meanwhile
   and never sent).

A row that failed, and every row after it, stay unpublished and are sent again on the next turn,
first alone (a "probe") with a growing pause, then in full batches once it went through. So a
crash or an error can repeat rows but never lose one, and the first copy of every row reaches
Kafka after the first copies of the rows before it.

An empty outbox is looked at again after `idle_sleep` seconds at most; on PostgreSQL the relay
also LISTENs for the writers' commit notifications (`producers.outbox.wakeup`), which wake it at
once.

Only the relay holding the outbox's lease (`producers.outbox.lease`) runs the loop. Logs carry
ids and counts, never a key or a value.

Limits, by construction:
- Order per key is the id order of the rows the relay sees. Ids are drawn at INSERT, so a
  writer must insert its outbox row after locking the business row it changes (as any outbox
  writer must): then two transactions about one key cannot commit against their id order.
- A row that fails for good (a per-message error such as "message too large", or no
  acknowledgement within `delivery.timeout.ms`, 300 s) after later rows of its batch were
  delivered lets those later rows' first copies precede it. The relay then retries that row
  alone and stops there (it never skips a row); consumers de-duplicate by `event_id`.
- `schema_fingerprint` must be one of the shipped schemas: drain the outbox before a release
  that removes a schema version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import SQLAlchemyError

from databus.kafka_config import producer_config
from databus.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from databus.outbox.backlog import backlog
from databus.outbox.table import DEFAULT_TABLE, outbox_table
from databus.registry import registry_client
from databus.security.signing import EventSigner
from producers.outbox.delivery import BatchPublisher
from producers.outbox.diagnostics import describe_error, kafka_error_name
from producers.outbox.lease import Lease, LeaseHeldError, lease_for
from producers.outbox.rows import OutboxRows
from producers.outbox.schema_ids import SchemaHeaders
from producers.outbox.wakeup import wakeup_for

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
PROGRESS_EVERY = 60.0


class RelayError(RuntimeError):
    """The relay gave up (only in drain mode: a row or the database kept failing)."""


@dataclass
class RelayStats:
    """What one `run` did."""

    published: int = 0
    """Rows delivered and marked published."""
    batches: int = 0
    delivery_failures: int = 0
    """Rows whose delivery failed (they stay unpublished and are retried)."""
    drained: bool = False
    """True when the run ended because the outbox was empty (drain mode)."""
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        """Published rows per second of the run."""
        return self.published / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Machine form, for `--json` output."""
        return {
            "published": self.published,
            "batches": self.batches,
            "delivery_failures": self.delivery_failures,
            "drained": self.drained,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


class OutboxRelay:
    """Publishes one outbox table to Kafka; one `run` at a time per outbox (leased).

    `lease_timeout`: seconds to wait for another relay's lease (None: wait as a standby for as
    long as it takes; 0: give up at once) before `LeaseHeldError`. `producer_overrides` adjust
    `databus.kafka_config.producer_config` (idempotence and acks=all are what the ordering relies
    on: leave them).
    """

    def __init__(
        self,
        engine: Engine,
        bootstrap: str,
        registry_url: str,
        *,
        table: str = DEFAULT_TABLE,
        batch_size: int = 5000,
        client_id: str | None = None,
        lease_timeout: float | None = None,
        idle_sleep: float = 0.1,
        gauge_interval: float = 1.0,
        stop_grace: float = 30.0,
        drain_retries: int = 5,
        producer_overrides: Mapping[str, Any] | None = None,
        registry: SchemaRegistryClient | None = None,
        signer: EventSigner | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.engine = engine
        self.table_name = table
        self.table: Table = outbox_table(table)
        self.batch_size = batch_size
        self.lease_timeout = lease_timeout
        self.idle_sleep = idle_sleep
        self.gauge_interval = gauge_interval
        self.stop_grace = stop_grace
        self.drain_retries = drain_retries
        self.leased = threading.Event()
        """Set while this relay holds the lease (tests and health checks read it)."""
        self.standby = threading.Event()
        """Set while this relay waits as a standby for another relay's lease."""
        self._producer_conf = producer_config(
            bootstrap,
            client_id or f"databus-outbox-relay-{table}",
            error_cb=self._on_kafka_error,
            logger=logging.getLogger("producers.outbox.librdkafka"),
            **(producer_overrides or {}),
        )
        self._publisher = BatchPublisher(
            SchemaHeaders(registry or registry_client(registry_url)),
            table,
            stop_grace,
            signer or EventSigner.from_env(),
        )
        self._lease: Lease = lease_for(engine, table)
        self._rows = OutboxRows(self.table, batch_size, engine.dialect.name == "postgresql")
        self._wakeup = wakeup_for(engine, table)
        self._next_gauges = 0.0
        self._last_kafka_error: dict[int, float] = {}
        self._failures = 0
        self._progress = (0.0, 0)
        self._producer: Producer  # created by run()

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, drain_once: bool = False) -> RelayStats:
        """Publish until `stop` is set, or (`drain_once`) until the outbox is empty.

        A batch in flight when `stop` is set is finished (its deliveries awaited up to
        `stop_grace` seconds) and its delivered prefix marked. Raises LeaseHeldError when the
        lease stays taken past `lease_timeout`, RelayError when drain mode gives up.
        """
        stop = stop or threading.Event()
        stats = RelayStats()
        started = time.monotonic()
        self._failures = 0
        self._progress = (started, 0)
        self._producer = Producer(self._producer_conf)
        db_failures = 0
        try:
            while not stop.is_set():
                conn: Connection | None = None
                try:
                    conn = self._take_lease(stop)
                    if conn is None:
                        break
                    self._loop(conn, stop, drain_once, stats)
                except SQLAlchemyError as exc:
                    if conn is not None:
                        self._drop(conn)
                    db_failures += 1
                    if drain_once and db_failures >= self.drain_retries:
                        raise RelayError(
                            f"outbox {self.table_name}: database failed {db_failures} times"
                        ) from None
                    delay = _backoff(db_failures)
                    log.warning(
                        "outbox %s: database error (%s); reconnecting in %.1f s",
                        self.table_name,
                        describe_error(exc),
                        delay,
                    )
                    stop.wait(delay)
                    continue
                except BaseException:
                    if conn is not None:
                        self._drop(conn)
                    raise
                self._release(conn)
                break
        finally:
            self._wakeup.close()
            left = self._producer.flush(5.0)
            if left:
                log.warning("outbox %s: %d messages unconfirmed at exit", self.table_name, left)
            stats.seconds = time.monotonic() - started
        return stats

    def _loop(
        self, conn: Connection, stop: threading.Event, drain_once: bool, stats: RelayStats
    ) -> None:
        """Batches until stopped or drained."""
        if not drain_once:
            self._wakeup.start()  # before the first scan: no commit after it goes unnoticed
        while not stop.is_set():
            self._update_gauges(conn)
            probing = self._failures > 0
            rows = self._rows.next_rows(conn, probe=probing)
            if not rows:  # nothing unpublished: the gauges need no query
                OUTBOX_BACKLOG.labels(self.table_name).set(0)
                OUTBOX_OLDEST_AGE.labels(self.table_name).set(0)
                if drain_once:
                    stats.drained = True
                    return
                self._wakeup.wait(stop, self.idle_sleep)
                continue
            batch = self._publisher.publish(self._producer, rows, stop)
            done = batch.delivered_prefix()
            if done:
                self._rows.mark(conn, [row[0] for row in rows[:done]])
                stats.published += done
                OUTBOX_PUBLISHED.labels(self.table_name).inc(done)
                log.debug(
                    "outbox %s: rows %d..%d published (%d)",
                    self.table_name,
                    rows[0][0],
                    rows[done - 1][0],
                    done,
                )
                self._log_progress(stats)
            stats.batches += 1
            stats.delivery_failures += len(batch.errors)
            if batch.fatal:
                log.error(
                    "outbox %s: fatal producer error; starting a new producer", self.table_name
                )
                self._producer.flush(1.0)
                self._producer = Producer(self._producer_conf)
            if done == len(rows):
                if self._failures:
                    log.info(
                        "outbox %s: publishing again after %d failed attempt(s)",
                        self.table_name,
                        self._failures,
                    )
                self._failures = 0
                continue
            if stop.is_set():
                break
            self._failures += 1
            if drain_once and self._failures >= self.drain_retries:
                raise RelayError(
                    f"outbox {self.table_name}: row {rows[done][0]} not published after "
                    f"{self._failures} attempts"
                )
            delay = _backoff(self._failures)
            log.warning(
                "outbox %s: row %d and later stay unpublished (attempt %d); retrying in %.1f s",
                self.table_name,
                rows[done][0],
                self._failures,
                delay,
            )
            stop.wait(delay)

    # -- lease, connection, metrics ----------------------------------------------------------

    def _take_lease(self, stop: threading.Event) -> Connection | None:
        """A connection holding the lease; None if `stop` was set while waiting."""
        deadline = None if self.lease_timeout is None else time.monotonic() + self.lease_timeout
        announced = False
        while True:
            conn = self.engine.connect()
            try:
                acquired = self._lease.try_acquire(conn)
            except BaseException:
                self._drop(conn)
                raise
            if acquired:
                self.standby.clear()
                self.leased.set()
                log.info("outbox %s: lease taken; relaying", self.table_name)
                return conn
            conn.close()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.standby.clear()
                raise LeaseHeldError(self.table_name)
            self.standby.set()
            if not announced:
                log.warning(
                    "outbox %s: another relay holds the lease; waiting as a standby",
                    self.table_name,
                )
                announced = True
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - now))
            if stop.wait(wait):
                self.standby.clear()
                return None

    def _release(self, conn: Connection) -> None:
        self.leased.clear()
        try:
            self._lease.release(conn)
            conn.close()
        except SQLAlchemyError:
            self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        """Close the connection for good: a session lock must not live on in the pool."""
        self.leased.clear()
        try:
            conn.invalidate()
            conn.close()
        except SQLAlchemyError:
            pass
        self._lease.release(None)

    def _update_gauges(self, conn: Connection) -> None:
        """Backlog gauges, at most every `gauge_interval` s (longer if the count is slow)."""
        now = time.monotonic()
        if now < self._next_gauges:
            return
        with conn.begin():
            current = backlog(conn, self.table)
        took = time.monotonic() - now
        self._next_gauges = time.monotonic() + max(self.gauge_interval, 20 * took)
        OUTBOX_BACKLOG.labels(self.table_name).set(current.rows)
        OUTBOX_OLDEST_AGE.labels(self.table_name).set(current.oldest_age_seconds)

    def _log_progress(self, stats: RelayStats) -> None:
        """One INFO line a minute while publishing: counts only."""
        since, published = self._progress
        now = time.monotonic()
        if now - since >= PROGRESS_EVERY:
            log.info(
                "outbox %s: %d rows published in the last %.0f s (%d this run)",
                self.table_name,
                stats.published - published,
                now - since,
                stats.published,
            )
            self._progress = (now, stats.published)

    def _on_kafka_error(self, err: KafkaError) -> None:
        """Client-level errors (broker down ...): logged once per 30 s per code."""
        now = time.monotonic()
        code = err.code()
        if now - self._last_kafka_error.get(code, -1e9) >= 30.0:
            self._last_kafka_error[code] = now
            log.warning("outbox %s: Kafka: %s", self.table_name, kafka_error_name(err))


def _backoff(attempt: int) -> float:
    return float(min(MAX_BACKOFF, 0.5 * 2 ** min(attempt - 1, 10)))


__all__ = ["LeaseHeldError", "OutboxRelay", "RelayError", "RelayStats"]
