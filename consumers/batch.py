"""A batch consumer that writes into a database: the loop every sink shares.

Subclasses say how one record becomes a row (`to_item`) and how a batch of rows is written
(`write`, inside the transaction it is given). The loop reads a batch, decodes it (records that
cannot be decoded are dead-lettered), writes it in ONE transaction, delivers the dead letters,
and only then commits the offsets. A database that is down is retried with backoff while the
consumer keeps its partitions (paused, still polling), so nothing is skipped or dead-lettered
because of it.

Batches are pipelined: while a writer thread writes batch k (most of that time is spent
waiting for the database, which releases the GIL), this thread consumes and decodes batch k+1.
One batch is written at a time, in consumption order, and batch k's offsets are committed
(after its dead letters are delivered) before batch k+1 is handed to the writer.

Batches adapt to the load (group commit): a batch is whatever arrived while the previous one
was being written, up to `batch_size`. An idle consumer hands its first record to the writer
at once; under load the batches grow by themselves. Nothing waits for a batch to fill.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from databus.dead_letter import DeadLetterWriter, Failure
from databus.kafka_config import consumer_config, producer_config
from databus.kafka_retry import error_code, is_transient, reason_code
from databus.metrics import DEAD_LETTERS
from databus.registry import registry_client
from databus.serde import DecodeError, Decoder, Encoder
from databus.settings import Settings
from databus.topology.topics import Topics
from schemas.models.base import Contract

log = logging.getLogger(__name__)
MAX_BACKOFF = 5.0
GATHER_STEP = 0.005
"""Seconds one consume call waits while a batch gathers behind a write in flight."""
Item = TypeVar("Item")


@dataclass(frozen=True)
class _Writing(Generic[Item]):
    """A decoded batch and its write in progress (None: nothing to write)."""

    messages: Sequence[Message]
    items: list[Item]
    future: Future[int] | None
    decoded: Sequence[Message] = ()
    """The messages that became items (the others were dead-lettered)."""


@dataclass
class ConsumerStats:
    """What a batch consumer did so far."""

    batches: int = 0
    rows: int = 0
    dead_letters: int = 0


class BatchConsumer(ABC, Generic[Item]):
    """Consume one topic into a database, one transaction per batch."""

    record_type: type[Contract]

    def __init__(
        self,
        settings: Settings,
        topic: str,
        engine: Engine,
        group: str,
        *,
        batch_size: int = 2000,
        instance_id: str | None = None,
        max_wait: float = 0.5,
    ) -> None:
        """`instance_id`: static group membership (`group.instance.id`): a consumer restarted
        with the same id takes its partitions back at once, without waiting for the broker
        to notice the old one is gone. `max_wait`: the longest an idle consumer waits for a
        first record before it looks at `should_stop` again (batches never wait to fill)."""
        self.topic = topic
        self.engine = engine
        self.group = group
        self.batch_size = batch_size
        self.max_wait = max_wait
        endpoints = settings.endpoints
        registry = registry_client(endpoints.registry_url)
        self.decoder = Decoder(registry, topic, self.record_type)
        static = {"group.instance.id": instance_id} if instance_id else {}
        self._consumer_config = consumer_config(endpoints.bootstrap_servers, group, **static)
        self.consumer = Consumer(self._consumer_config)
        self._rejoins: list[float] = []
        self._fatal: FatalConsumerError | None = None
        self.producer = Producer(producer_config(endpoints.bootstrap_servers, group))
        dead_letter_topic = Topics.from_settings(settings).dead_letter
        self.dead_letters = DeadLetterWriter(
            self.producer, Encoder(registry, dead_letter_topic, "DeadLetter"), group
        )
        self.stats = ConsumerStats()
        self.assigned = threading.Event()
        """Set while the consumer holds partitions of its group (readiness)."""
        self.database_ok = threading.Event()
        """Cleared while writes fail and are retried (readiness)."""
        self.database_ok.set()

    def decode_item(self, value: bytes | None, *, record: str) -> Item:
        """The item of one record's value (`record` labels it in errors); DecodeError if it
        cannot be decoded. By default: decode and validate the model, then `to_item`."""
        return self.to_item(self.decoder.decode(value, record=record))

    @abstractmethod
    def to_item(self, record: Contract) -> Item:
        """The row (or rows) one decoded record becomes."""

    @abstractmethod
    def write(self, conn: Connection, items: Sequence[Item]) -> int:
        """Write a batch inside the given transaction; return how many rows it wrote."""

    def committed(self, messages: Sequence[Message], applied_at: datetime) -> None:
        """Called once the database committed the items of `messages` (freshness hooks)."""

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions:
            self.assigned.set()

    def _on_revoke(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self.assigned.clear()

    def _subscribe(self) -> None:
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _rejoin(self, error: KafkaError) -> None:
        """Replace a consumer that failed for good (a static member fenced after a frozen or cut
        broker answered a join twice) with a new one: it resumes from the committed offsets, and
        what it reads again is rewritten harmlessly (the version guard)."""
        now = time.monotonic()
        self._rejoins = [t for t in self._rejoins if now - t < REJOIN_WINDOW] + [now]
        if len(self._rejoins) > MAX_REJOINS:
            instance = self._consumer_config.get("group.instance.id")
            raise RuntimeError(
                f"consumer of {self.group} failed for good {len(self._rejoins)} times within "
                f"{REJOIN_WINDOW:.0f} s ({error.name()}): is another process using "
                f"group.instance.id {instance!r}?"
            )
        log.warning(
            "consumer of %s failed for good (%s); joining the group again",
            self.group,
            error.name(),
        )
        self.assigned.clear()
        with contextlib.suppress(KafkaException, RuntimeError):
            self.consumer.close()
        self.consumer = Consumer(self._consumer_config)
        self._subscribe()

    def run(self, should_stop: Callable[[], bool]) -> ConsumerStats:
        """Consume until `should_stop()`; every batch is durable before its offsets move."""
        self._subscribe()
        writer = ThreadPoolExecutor(1, thread_name_prefix="batch-writer")
        writing: _Writing[Item] | None = None
        try:
            while not should_stop():
                try:
                    messages, items, decoded = self._gather(writing)
                except FatalConsumerError as failed:
                    if writing is not None:  # written; its commit is refused and given up
                        self._complete(writing)
                        writing = None
                    self._rejoin(failed.error)
                    continue
                if writing is not None:
                    if self._wrote(writing) and items:
                        # durable: the next batch is written while this one's offsets commit
                        following = writer.submit(self._write_once, items)
                        self._complete(writing)
                        writing = _Writing(messages, items, following, decoded)
                        continue
                    self._complete(writing)
                    writing = None
                if messages:
                    future = writer.submit(self._write_once, items) if items else None
                    writing = _Writing(messages, items, future, decoded)
            if writing is not None:
                self._complete(writing)
        finally:
            writer.shutdown(wait=True)
            self.consumer.close()
            self.producer.flush(10)
        return self.stats

    def _gather(
        self, writing: _Writing[Item] | None
    ) -> tuple[list[Message], list[Item], list[Message]]:
        """The next batch, decoded: what the consumer holds now and, while the previous batch
        is still being written, what arrives until its write ends (or the batch is full).
        With nothing in flight and nothing there, waits up to `max_wait` for a first record
        (`poll`, which returns as soon as one arrives), then takes what is there with it."""
        messages: list[Message] = []
        items: list[Item] = []
        decoded: list[Message] = []
        if self._fatal is not None:  # met while gathering the batch written before
            failed, self._fatal = self._fatal, None
            raise failed
        timeout: float | None = 0.0  # None: the idle wait for a first record
        waited = False
        while len(messages) < self.batch_size:
            try:
                if timeout is None:
                    waited = True
                    first = self.consumer.poll(self.max_wait)
                    raw = [] if first is None else [first]
                else:
                    raw = self.consumer.consume(self.batch_size - len(messages), timeout)
                chunk = [m for m in raw if not _skippable(m, self.group)]
            except FatalConsumerError as failed:
                if not messages:
                    raise
                self._fatal = failed  # the batch so far is written first
                break
            if chunk:
                chunk_items, chunk_decoded = self._decode(chunk)
                messages.extend(chunk)
                items.extend(chunk_items)
                decoded.extend(chunk_decoded)
            if writing is not None and writing.future is not None and not writing.future.done():
                timeout = GATHER_STEP  # the writer is busy: this batch may still grow
            elif chunk:
                timeout = 0.0  # take what else is there already
            elif messages or waited:
                break
            else:
                timeout = None  # idle: wait for a first record
        return messages, items, decoded

    def process(self, messages: Sequence[Message]) -> None:
        """Decode, write, deliver dead letters, commit offsets: one batch, synchronously."""
        items, decoded = self._decode(messages)
        self._complete(_Writing(messages, items, None, decoded), write_here=True)

    def _decode(self, messages: Sequence[Message]) -> tuple[list[Item], list[Message]]:
        """The items of a batch and the messages they came from; what cannot be decoded is
        dead-lettered (delivered later, before the batch's offsets are committed)."""
        items: list[Item] = []
        decoded: list[Message] = []
        for message in messages:
            try:
                item = self.decode_item(message.value(), record=f"offset {message.offset()}")
            except DecodeError as error:
                self.dead_letters.send(message, Failure(error.reason, error.message, "DecodeError"))
                DEAD_LETTERS.labels(
                    self.group, "unknown", self.record_type.__name__, error.reason
                ).inc()
                self.stats.dead_letters += 1
                continue
            items.append(item)
            decoded.append(message)
        return items, decoded

    def _write_once(self, items: list[Item]) -> int:
        with self.engine.begin() as conn:
            return self.write(conn, items)

    @staticmethod
    def _wrote(batch: _Writing[Item]) -> bool:
        """Wait for a batch's write; whether it succeeded (else `_complete` retries it)."""
        if batch.future is None:
            return False
        wait([batch.future])
        return batch.future.exception() is None

    def _complete(self, batch: _Writing[Item], *, write_here: bool = False) -> None:
        """Wait for a batch's write (retrying here while the database is down), deliver the
        dead letters, then commit its offsets."""
        written = 0
        if batch.future is not None:
            try:
                written = batch.future.result()
            except (OperationalError, DBAPIError) as error:
                if not database_unavailable(error):
                    raise
                written = self._write_retrying(batch.items)
        elif write_here and batch.items:
            written = self._write_retrying(batch.items)
        if batch.items:
            self.committed(batch.decoded, datetime.now(UTC))
        while self.producer.flush(10) > 0:  # dead letters delivered before offsets move
            time.sleep(0.5)
        self._commit(_next_offsets(batch.messages))
        self.stats.batches += 1
        self.stats.rows += written

    def _commit(self, offsets: list[TopicPartition]) -> None:
        """Commit a written batch's offsets. Transient answers (coordinator moved or loading, as
        when a broker dies or freezes) are retried for as long as they last, never fatal. When
        the group is rebalancing or has moved the partitions to another member, the commit is
        given up: the next batch's commit covers these offsets, or the new owner reads the
        records again, which a write tolerates anyway (a crash after the write repeats it too;
        the sinks' version guard makes it a no-op)."""
        delay = COMMIT_BACKOFF
        while True:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as exc:
                if error_code(exc) in LOST_PARTITIONS:
                    log.warning(
                        "offsets of %s not committed (%s): the group moved or is moving them",
                        self.group,
                        reason_code(exc),
                    )
                    return
                if not is_transient(exc):
                    raise
                log.warning(
                    "offsets of %s not committed yet (%s); retrying in %.1f s",
                    self.group,
                    reason_code(exc),
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, COMMIT_BACKOFF_MAX)

    def _write_retrying(self, items: list[Item]) -> int:
        delay = 0.5
        paused: list[TopicPartition] = []
        try:
            while True:
                try:
                    with self.engine.begin() as conn:
                        return self.write(conn, items)
                except (OperationalError, DBAPIError) as error:
                    if not database_unavailable(error):
                        raise
                    self.database_ok.clear()
                    if not paused:
                        paused = self.consumer.assignment()
                        self.consumer.pause(paused)
                    log.warning("database of %s unavailable; retrying in %.1f s", self.group, delay)
                    self._idle(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
        finally:
            self.database_ok.set()
            if paused:
                self.consumer.resume(paused)

    def _idle(self, seconds: float) -> None:
        """Keep the group membership while fetches are paused; a record that still arrives is
        put back (seek), so it is read again after resume."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            early = self.consumer.poll(0.2)
            if early is not None and early.error() is None:
                self.consumer.seek(
                    TopicPartition(early.topic() or "", early.partition() or 0, early.offset() or 0)
                )


COMMIT_BACKOFF = 0.2
COMMIT_BACKOFF_MAX = 5.0
"""Seconds between tries of a commit refused transiently: 0.2 s doubling up to 5 s."""
LOST_PARTITIONS = frozenset(
    {
        KafkaError._FATAL,  # the consumer itself is done for (fenced); a new one re-reads
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.FENCED_INSTANCE_ID,
    }
)
"""Commit refusals meaning the group reassigned the partitions (the records are read again)."""
UNAVAILABLE_SQLSTATES = frozenset({"25006", "57P01", "57P02", "57P03"})
"""PostgreSQL answers meaning "not now" rather than "not this row": read-only transaction (a
database turned read-only, a standby during fail-over), administrator or crash shutdown, cannot
connect now (starting up)."""


def database_unavailable(error: DBAPIError) -> bool:
    """Whether the database refused for a while (retry the batch) rather than for its rows."""
    if error.connection_invalidated or isinstance(error, OperationalError):
        return True
    return getattr(error.orig, "sqlstate", None) in UNAVAILABLE_SQLSTATES


MAX_REJOINS = 3
REJOIN_WINDOW = 120.0
"""A consumer that fails for good more often than this is not unlucky: two processes share one
static member id and fence each other; the sink exits and says so."""


class FatalConsumerError(Exception):
    """The consumer cannot go on (librdkafka's fatal error); a new one must join the group."""

    def __init__(self, error: KafkaError) -> None:
        super().__init__(f"consumer error: {error.name()}")
        self.error = error


def _skippable(message: Message, group: str) -> bool:
    """Whether a consumed message is an event rather than a record: the end of a partition, or
    a passing error (broker down, transport) that librdkafka recovers from by itself, logged.
    A fatal error raises FatalConsumerError."""
    error = message.error()
    if error is None:
        return False
    if error.code() == KafkaError._PARTITION_EOF:
        return True
    if error.fatal() or error.code() == KafkaError._FATAL:  # a message's copy lacks the flag
        raise FatalConsumerError(error)
    log.warning("consumer of %s: %s (librdkafka retries)", group, error.name())
    return True


def _next_offsets(messages: Sequence[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic() or "", message.partition() or 0)
        last[key] = max(last.get(key, -1), message.offset() or 0)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
