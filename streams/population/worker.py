"""The population-sync component: source events in, golden record and its outbox out.

A faust-streaming app (the `kafka://` driver) consumes the source topics in batches. Each batch
is decoded (undecodable records go to the dead-letter topic with their reason), applied in ONE
database transaction (`PopulationApplier`), dead letters for refused events are produced and
flushed, and only then does the batch return to faust, which acks its events; their offsets are
committed after that. A crash before the commit replays the batch; the applied-event table
makes the replay skip what was already applied.

The agent takes adaptive batches (`streams.batching`: an idle worker applies one event at once;
under load a batch is whatever arrived while the previous one was applied) and acknowledges a
batch's events itself, after its transaction committed; while one batch is applied (in an
executor thread, one at a time and in order), faust keeps buffering the next. No published
event stops the worker: the applier refuses it with a reason or isolates it (an unexpected error
while applying it: dead-lettered `apply_failed` with the exception's type, the rest of the batch
applies). `process` never
raises for a transient failure: it retries database and registry errors with backoff while the
consumer keeps its partitions; any other failure (a bug outside the rules) ends the process at
once (exit code 70), before anything uncommitted is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError, OperationalError

from databus.dead_letter import DeadLetterWriter, Failure
from databus.failures import failure_trace
from databus.freshness import ConnectionFreshness
from databus.kafka_config import producer_config
from databus.metrics import (
    DEAD_LETTERS,
    SYNC_APPLIED,
    SYNC_BATCH_SECONDS,
    SYNC_FRESHNESS,
    SYNC_ISOLATED,
    SYNC_SKIPPED,
)
from databus.outbox import create_outbox
from databus.population.schema import create_population_schema
from databus.producing import flush_patiently
from databus.registry import registry_client
from databus.security.signing import BAD_SIGNATURE, Headers, verifier_for
from databus.serde import DecodeError, Decoder, Encoder, registry_unavailable
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.catalog import EVENT_DOMAINS
from schemas.event_types import EVENT_TYPES_BY_NAME
from streams.batching import ack_events, adaptive_batches
from streams.faust_app import raw_faust_app
from streams.population.apply import Incoming, Outcome, PopulationApplier
from streams.population.isolation import FaultInjector, is_infrastructure
from streams.population.model import APPLY_FAILED
from streams.population.outbox import NPD_OUTBOX, PopulationOutbox
from streams.population.parking import domain_of

log = logging.getLogger(__name__)
CONSUMER = "population-sync"
FATAL_EXIT = 70
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class RawRecord:
    """A record as consumed: where it came from and its bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = None


@dataclass
class BatchReport:
    """What one batch did (counts by status, dead letters by reason)."""

    statuses: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)


class PopulationSync:
    """Decode, apply, dead-letter: everything the faust agent does with one batch."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        group: str = CONSUMER,
        outbox_table: str = NPD_OUTBOX,
    ) -> None:
        self.settings = settings
        self.group = group
        self.topology = load_topology(settings.topology)
        self.topics = Topics.from_settings(settings, self.topology)
        self.engine = create_engine(database_url, pool_pre_ping=True)
        create_population_schema(self.engine)
        create_outbox(self.engine, outbox_table)
        faults = FaultInjector.from_env()
        if faults is not None:
            log.warning("test hook: a fault is injected into %d events", len(faults.event_ids))
        self.applier = PopulationApplier(
            self.topology, PopulationOutbox(self.topics, outbox_table), faults=faults
        )
        self.freshness = ConnectionFreshness.for_population(self.topology, self.topics)
        endpoints = settings.endpoints
        registry = registry_client(endpoints.registry_url)
        self.source_topics = [self.topics.source_topic(name) for name in self.topology.sources]
        self.topic_of_domain: dict[str, str] = {
            EVENT_TYPES_BY_NAME[source.event_types[0]].domain: self.topics.source_topic(name)
            for name, source in self.topology.sources.items()
        }
        self.encoders: dict[str, Encoder] = {
            domain: Encoder(registry, topic, EVENT_DOMAINS[domain].record_name)
            for domain, topic in self.topic_of_domain.items()
        }
        self.decoders = {
            self.topics.source_topic(name): Decoder(
                registry,
                self.topics.source_topic(name),
                EVENT_DOMAINS[EVENT_TYPES_BY_NAME[source.event_types[0]].domain],
            )
            for name, source in self.topology.sources.items()
        }
        self.owner_of_topic = {
            self.topics.source_topic(name): source.agency
            for name, source in self.topology.sources.items()
        }
        self.signatures = verifier_for(self.topology, settings)
        self.producer = Producer(producer_config(endpoints.bootstrap_servers, f"{group}-dlq"))
        self.dead_letters = DeadLetterWriter(
            self.producer, Encoder(registry, self.topics.dead_letter, "DeadLetter"), group
        )

    # ------------------------------------------------------------------ one batch

    def process(self, records: Sequence[RawRecord]) -> BatchReport:
        """Decode, apply in one transaction, dead-letter; return when all is durable."""
        report = BatchReport()
        incoming: list[Incoming] = []
        for record in records:
            if not self._signed_by_owner(record, report):
                continue
            event = self._decode(record, report)
            if event is not None:
                incoming.append(event)
        started = time.monotonic()
        outcomes = self._apply(incoming) if incoming else []
        SYNC_BATCH_SECONDS.observe(time.monotonic() - started)
        now = datetime.now(UTC)
        for outcome in outcomes:
            self._account(outcome, report, now)
        self._flush_dead_letters()
        return report

    def _signed_by_owner(self, record: RawRecord, report: BatchReport) -> bool:
        """Whether the record carries a valid signature of the agency owning its topic (or may
        go unsigned under the optional policy); a bad one is dead-lettered, never applied."""
        owner = self.owner_of_topic[record.topic]
        problem = self.signatures.problem(
            owner, record.topic, record.key, record.value, record.headers
        )
        if problem is None:
            return True
        log.warning("%s/%d/%d: %s", record.topic, record.partition, record.offset, problem)
        self._dead_letter(
            record, Failure(BAD_SIGNATURE, problem, "SignatureError"), report, owner, "unknown"
        )
        return False

    def _decode(self, record: RawRecord, report: BatchReport) -> Incoming | None:
        delay = 0.5
        while True:
            try:
                event = self.decoders[record.topic].decode_event(
                    record.value, record=f"{record.topic}/{record.partition}/{record.offset}"
                )
                return Incoming(
                    event, record.topic, record.partition, record.offset, record.key, record.value
                )
            except DecodeError as error:
                if error.retryable:
                    log.warning(
                        "registry unavailable (%s); retrying in %.1f s", error.reason, delay
                    )
                    time.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
                self._dead_letter(
                    record,
                    Failure(error.reason, error.message, "DecodeError"),
                    report,
                    "unknown",
                    "unknown",
                )
                return None

    def _apply(self, incoming: list[Incoming]) -> list[Outcome]:
        delay = 0.5
        while True:
            try:
                with self.engine.begin() as conn:
                    return self.applier.apply_batch(conn, incoming)
            except (OperationalError, DBAPIError) as error:
                if not is_infrastructure(error):
                    raise
                log.warning(
                    "population database unavailable (%s); retrying in %.1f s",
                    type(error.orig).__name__ if error.orig else "error",
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def _account(self, outcome: Outcome, report: BatchReport, now: datetime) -> None:
        event = outcome.incoming.event
        report.statuses[outcome.status] += 1
        if outcome.status == "applied":
            SYNC_APPLIED.labels(event.source, event.event_type).inc()
            SYNC_FRESHNESS.labels(event.source).observe(
                max(0.0, (now - event.occurred_at).total_seconds())
            )
            self.freshness.observe(outcome.incoming.topic, event.occurred_at, now)
        elif outcome.status == "dead_letter":
            self._dead_letter(
                self._record_of(outcome.incoming),
                Failure(
                    outcome.reason or "refused",
                    outcome.message,
                    outcome.error_class or "ProcessingRule",
                ),
                report,
                event.source,
                event.event_type,
            )
            if outcome.reason == APPLY_FAILED:
                SYNC_ISOLATED.labels(event.source, event.event_type).inc()
        else:
            SYNC_SKIPPED.labels(
                event.source, event.event_type, outcome.reason or outcome.status
            ).inc()

    def _record_of(self, incoming: Incoming) -> RawRecord:
        """The record to dead-letter for an event: as consumed; for an event that waited
        parked (kept as JSON), its encoding for its source topic, so that a replay reads it."""
        if incoming.value is not None:
            return RawRecord(
                incoming.topic, incoming.partition, incoming.offset, incoming.key, incoming.value
            )
        domain = domain_of(incoming.event)
        delay = 0.5
        while True:  # the batch is committed: its parked row is gone, so wait for the registry
            try:
                value = self.encoders[domain].encode(incoming.event)
                break
            except Exception as error:
                if not registry_unavailable(error):
                    raise
                log.warning(
                    "registry unavailable (%s) re-encoding a released event for its dead "
                    "letter; retrying in %.1f s",
                    type(error).__name__,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        key = (incoming.event.subject_pin or "").encode()
        return RawRecord(self.topic_of_domain[domain], -1, -1, key, value)

    def _dead_letter(
        self, record: RawRecord, failure: Failure, report: BatchReport, agency: str, event_type: str
    ) -> None:
        self.dead_letters.send_raw(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            failure=failure,
            headers=record.headers,
        )
        report.dead_letters[failure.reason] += 1
        DEAD_LETTERS.labels(self.group, agency, event_type, failure.reason).inc()

    def _flush_dead_letters(self) -> None:
        flush_patiently(self.producer, "dead letters", max_backoff=MAX_BACKOFF)

    # ------------------------------------------------------------------ faust

    def build_app(self, *, batch_size: int = 500, linger: float = 0.0) -> Any:
        """The faust app: one agent over all source topics, consumer group = `group`.

        Adaptive batches (`streams.batching`): a batch is whatever arrived while the previous
        one was applied (up to `batch_size`), plus at most `linger` seconds of waiting for
        more when fewer are there."""
        app = raw_faust_app(
            self.group,
            self.settings.endpoints.bootstrap_servers,
            batch_size=batch_size,
            broker_commit_every=1000,
        )
        channel = app.topic(*self.source_topics, value_serializer="raw", key_serializer="raw")

        @app.agent(channel, name="population-sync")
        async def sync(stream: Any) -> None:
            # One batch is applied (executor thread) while faust keeps buffering the next one
            # (event loop); a batch's events are acknowledged only after its transaction
            # committed, and batches are applied one at a time, in order.
            loop = asyncio.get_running_loop()
            async for events in adaptive_batches(stream, batch_size, linger):
                applied = loop.run_in_executor(None, self.process, raw_records(events))
                await _settled(stream, applied, events)

        return app


def raw_records(events: Sequence[Any]) -> list[RawRecord]:
    """The raw records of faust events."""
    return [
        RawRecord(
            e.message.topic,
            e.message.partition,
            e.message.offset,
            e.message.key,
            e.message.value,
            e.message.headers,
        )
        for e in events
    ]


async def _settled(stream: Any, applied: asyncio.Future[Any], events: Sequence[Any]) -> None:
    """Wait for a batch's transaction, then acknowledge its events; exit at once if it failed,
    so that nothing uncommitted is ever acknowledged."""
    try:
        await applied
    except BaseException as error:  # the trace without its message: it may hold values
        log.critical(
            "population sync failed on a batch (%s); exiting before it is acknowledged",
            failure_trace(error),
        )
        os._exit(FATAL_EXIT)
    await ack_events(stream, events)
