"""The ministry SDK: put correct events on the bus in a few lines, and never lose one.

    with Publisher.for_source("civil-status") as publisher:
        future = publisher.publish(event_or_json_dict)
        delivery = future.result(timeout=30)   # topic, partition, offset once acks=all
        report = publisher.flush(timeout=30)    # what was delivered, failed, still pending

A Publisher speaks for one source of the topology: it refuses, before anything reaches Kafka,
an event type the topology does not grant that source, or an event signed by another agency.
Events are validated by the contracts, encoded through the registry (Confluent wire format,
TopicNameStrategy) and produced with an idempotent producer (acks=all, lz4), keyed by the
subject PIN so a citizen's events stay in order. A full local queue makes `publish` wait; it
never drops. Delivery results arrive as futures; a background thread serves the callbacks and
sends the source's heartbeats.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from confluent_kafka import Producer

from databus.kafka_config import producer_config
from databus.metrics import EVENTS_FAILED, HEARTBEATS_SENT
from databus.registry import registry_client
from databus.security.signing import EventSigner
from databus.serde import Encoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.model import Source, Topology
from databus.topology.topics import Topics
from producers.sdk.futures import LightFuture
from producers.sdk.gate import NotGrantedError, SourceGate
from producers.sdk.ledger import Delivery, DeliveryLedger, PublishError
from schemas.domain import ContractError
from schemas.models.downstream import Heartbeat
from schemas.models.envelope import Event

log = logging.getLogger(__name__)

__all__ = ["Delivery", "FlushReport", "PublishError", "Publisher"]

POLL_INTERVAL = 0.002
"""Seconds between two polls of delivery reports while publishing: reports are served in
batches (one poll, one lock, one metrics update for tens of events), and a future resolves at
most this long after its report arrives (the background thread serves them when idle)."""


@dataclass
class FlushReport:
    """Outcome of `flush`/`close`: counts, and the event ids not delivered (yet)."""

    delivered: int
    failed: dict[str, str] = field(default_factory=dict)
    """event_id → reason, for events that failed for good."""
    pending: list[str] = field(default_factory=list)
    """event_ids still waiting for a delivery report when the time-out passed."""

    @property
    def complete(self) -> bool:
        return not self.failed and not self.pending


class Publisher:
    """Publishes the events of one source agency (see the module docstring)."""

    def __init__(
        self,
        source: str,
        *,
        settings: Settings | None = None,
        topology: Topology | None = None,
        heartbeats: bool = True,
        producer_overrides: dict[str, Any] | None = None,
        signer: EventSigner | None = None,
    ) -> None:
        """`signer`: the agency's signing key (default: `DATABUS_SIGNING_KEY_ID` and
        `DATABUS_SIGNING_KEY_FILE`; unsigned without them, which only a local plain run takes)."""
        self.settings = settings or Settings()
        self.signer = signer or EventSigner.from_env()
        self.topology = topology or load_topology(self.settings.topology)
        self.topics = Topics.from_settings(self.settings, self.topology)
        self.gate = SourceGate(self.topics, source)
        self.source_name = self.gate.source_name
        self.source: Source = self.gate.source
        self.agency = self.source.agency
        self.topic = self.topics.source_topic(self.source_name)
        self.domain = self.gate.domain
        endpoints = self.settings.endpoints
        registry = registry_client(endpoints.registry_url)
        self._encoder = Encoder(registry, self.topic, self.domain.record_name)
        self._heartbeat_encoder = Encoder(registry, self.topics.heartbeats, "Heartbeat")
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._producer = Producer(
            producer_config(
                endpoints.bootstrap_servers,
                f"databus-sdk-{self.source_name}",
                **(producer_overrides or {}),
            )
        )
        self._ledger = DeliveryLedger(self.agency, self.topic)
        self._source_header = ("source", self.agency)
        self._poll_lock = threading.Lock()
        self._last_poll = 0.0
        self._stop = threading.Event()
        self._heartbeat_seq = 0
        self._poller = threading.Thread(target=self._serve, name="databus-sdk-poll", daemon=True)
        self._poller.start()
        self._beater: threading.Thread | None = None
        if heartbeats:
            self._beater = threading.Thread(
                target=self._beat, name="databus-sdk-heartbeat", daemon=True
            )
            self._beater.start()

    @classmethod
    def for_source(cls, source: str, **kwargs: Any) -> Self:
        """A publisher for a source name (`civil-status`) or agency id (`VN/GOV/BTP/hotich`)."""
        return cls(source, **kwargs)

    # ------------------------------------------------------------------ publishing

    def validate(self, event: Event | dict[str, Any], *, record: str | None = None) -> Event:
        """The validated event this publisher may send; ContractError / NotGrantedError if not."""
        return self.gate.check(event, record=record)

    def publish(
        self, event: Event | dict[str, Any], *, record: str | None = None
    ) -> LightFuture[Delivery]:
        """Validate, encode and produce one event; the future resolves on delivery (acks=all).

        Raises ContractError (invalid) or NotGrantedError before anything reaches Kafka.
        Plain data goes through the compiled checker (`schemas.fast_events`) when it takes
        it, else through the pydantic model; the bytes are the same either way.
        When the local queue is full, waits for room instead of dropping.
        """
        data = event if isinstance(event, dict) else None
        value = self._encoder.encode_data(data) if data is not None else None
        if data is not None and value is not None and self.gate.grants(data):
            # valid data, checked and written by the compiled checker without a model
            event_id: str = data["event_id"].lower()  # as str(UUID) writes it
            event_type: str = data["event_type"]
            key: str = data["subject_pin"]
        else:
            try:
                model = self.validate(event, record=record)
            except ContractError as exc:
                reason = "not_granted" if isinstance(exc, NotGrantedError) else "validation"
                EVENTS_FAILED.labels(self.agency, _event_type_label(event), reason).inc()
                raise
            value = self._encoder.encode(model)
            event_id = str(model.event_id)
            event_type = model.event_type
            key = model.subject_pin
        headers: list[tuple[str, str | bytes | None]] = [
            ("event_id", event_id),
            ("event_type", event_type),
            self._source_header,
        ]
        if self.signer is not None:
            headers += self.signer.headers(self.topic, key, value, event_id)
        future = self._ledger.expect(event_id, event_type)
        while True:
            try:
                self._producer.produce(self.topic, value, key, on_delivery=future, headers=headers)
                break
            except BufferError:
                self._serve_reports(0.05)  # the queue is full: wait for room, never drop
            except Exception as exc:
                failure = self._ledger.abandon(event_id, event_type, "produce", type(exc).__name__)
                raise failure from exc
        if future.started - self._last_poll >= POLL_INTERVAL:
            self._serve_reports(0)
        return future

    def _serve_reports(self, timeout: float) -> None:
        """Run due delivery callbacks in this thread (one poller at a time, never two)."""
        if self._poll_lock.acquire(timeout > 0, timeout if timeout > 0 else -1):
            try:
                self._producer.poll(timeout)
                self._ledger.flush_metrics()
                self._last_poll = time.monotonic()
            finally:
                self._poll_lock.release()

    # ------------------------------------------------------------------ flush / close

    def flush(self, timeout: float = 30.0) -> FlushReport:
        """Wait up to `timeout` s for every delivery report; say what is still pending.

        Waits for the heartbeats in the producer's queue too: they have no ledger entry, and
        a heartbeat still queued when the producer is dropped would be lost.
        """
        deadline = time.monotonic() + timeout
        producer = self._producer
        while (self._ledger.pending or len(producer)) and time.monotonic() < deadline:
            with self._poll_lock:  # flush runs callbacks: keep them in one thread at a time
                self._producer.flush(max(0.0, min(0.5, deadline - time.monotonic())))
        with self._poll_lock:
            ledger = self._ledger
            ledger.flush_metrics()
            return FlushReport(ledger.delivered, dict(ledger.failed), list(ledger.pending))

    def close(self, timeout: float = 30.0) -> FlushReport:
        """Stop heartbeats, flush, stop the poller; the report lists what was not delivered."""
        self._stop.set()
        if self._beater is not None:
            self._beater.join(timeout=5)
        report = self.flush(timeout)
        self._poller.join(timeout=5)
        if not report.complete:
            log.warning(
                "publisher %s closed with %d events not delivered and %d failed",
                self.source_name,
                len(report.pending),
                len(report.failed),
            )
        return report

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ background

    def _serve(self) -> None:
        """Serve delivery reports while the application is not publishing (it polls inline)."""
        while not self._stop.is_set():
            if time.monotonic() - self._last_poll < 0.05:
                self._stop.wait(0.05)
            else:
                self._serve_reports(0.05)

    def _beat(self) -> None:
        interval = self.source.heartbeat_interval_seconds
        while not self._stop.is_set():
            self.send_heartbeat()
            self._stop.wait(interval)

    def send_heartbeat(self) -> None:
        """Send one heartbeat now (the background thread does it every interval)."""
        heartbeat = Heartbeat(
            source=self.agency,
            instance=self.instance,
            sequence=self._heartbeat_seq,
            sent_at=datetime.now(UTC),
            interval_seconds=self.source.heartbeat_interval_seconds,
        )
        self._heartbeat_seq += 1
        try:
            value = self._heartbeat_encoder.encode(heartbeat)
            self._producer.produce(self.topics.heartbeats, value, self.agency.encode())
            HEARTBEATS_SENT.labels(self.agency).inc()
        except Exception as exc:  # a missed heartbeat must never break publishing
            log.warning("heartbeat of %s not sent: %s", self.source_name, type(exc).__name__)


def _event_type_label(event: Event | dict[str, Any]) -> str:
    """A bounded label: a known event type name, else `unknown`."""
    from schemas.catalog import EVENT_CLASSES

    name = event.event_type if isinstance(event, Event) else event.get("event_type")
    return name if isinstance(name, str) and name in EVENT_CLASSES else "unknown"
