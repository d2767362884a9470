"""Delivery bookkeeping of a publisher: one future per event, which is its own delivery callback.

`PendingDelivery` carries what its delivery report needs (event id, event type, start time), so
producing an event allocates no closure; the `DeliveryLedger` it reports to keeps the pending
events, the counts and the failures, and the metrics (`producers.sdk.tally`, added in bulk).
Delivery callbacks run only inside the publisher's poll lock, so the ledger needs no lock of its
own.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from confluent_kafka import KafkaError, Message

from databus.metrics import DELIVERY_LATENCY, EVENTS_FAILED, EVENTS_PUBLISHED
from producers.sdk.futures import LightFuture
from producers.sdk.tally import CounterTally, HistogramTally


class PublishError(Exception):
    """An event was not delivered. `reason` is a code; the message holds no personal value."""

    def __init__(self, event_id: str, reason: str, message: str) -> None:
        super().__init__(f"event {event_id}: {reason}: {message}")
        self.event_id = event_id
        self.reason = reason


class Delivery(NamedTuple):
    """Where an event landed, once the broker confirmed it (acks=all)."""

    event_id: str
    topic: str
    partition: int
    offset: int
    latency_seconds: float


class DeliveryLedger:
    """Pending, delivered and failed events of one publisher, and its delivery metrics."""

    def __init__(self, agency: str, topic: str) -> None:
        self.agency = agency
        self.topic = topic
        self.pending: dict[str, PendingDelivery] = {}
        self.delivered = 0
        self.failed: dict[str, str] = {}
        """event_id → reason, for events that failed for good."""
        self.latency = HistogramTally(DELIVERY_LATENCY.labels(agency))
        self.published = CounterTally(
            lambda event_type: EVENTS_PUBLISHED.labels(agency, event_type)
        )

    def expect(self, event_id: str, event_type: str) -> PendingDelivery:
        """A future for an event about to be produced, counted pending until its report."""
        future = self.pending[event_id] = PendingDelivery(self, event_id, event_type)
        return future

    def abandon(self, event_id: str, event_type: str, reason: str, message: str) -> PublishError:
        """Count an event that failed for good; the error its future (or `publish`) raises."""
        self.pending.pop(event_id, None)
        EVENTS_FAILED.labels(self.agency, event_type, reason).inc()
        return PublishError(event_id, reason, message)

    def flush_metrics(self) -> None:
        """Make the deliveries recorded so far visible to a scrape."""
        self.latency.flush()
        self.published.flush()


class PendingDelivery(LightFuture[Delivery]):
    """The future of one produced event; called by the producer with its delivery report."""

    __slots__ = ("_event_id", "_event_type", "_ledger", "started")

    def __init__(self, ledger: DeliveryLedger, event_id: str, event_type: str) -> None:
        super().__init__()
        self._ledger = ledger
        self._event_id = event_id
        self._event_type = event_type
        self.started = time.monotonic()
        """When the event was handed to the producer (`time.monotonic`)."""

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        """The delivery report (runs inside the publisher's poll lock)."""
        ledger = self._ledger
        if error is not None:
            code = ledger.failed[self._event_id] = reason(error)
            self.set_exception(ledger.abandon(self._event_id, self._event_type, code, error.str()))
            return
        ledger.pending.pop(self._event_id, None)
        latency = time.monotonic() - self.started
        ledger.delivered += 1
        ledger.latency.observe(latency)
        ledger.published.inc(self._event_type)
        delivery = Delivery(
            self._event_id,
            message.topic() or ledger.topic,
            message.partition() or 0,
            message.offset() or 0,
            latency,
        )
        self._finish(delivery, None)


def reason(error: KafkaError) -> str:
    """The reason code of a delivery error (`delivery_timeout`, `kafka_<name>`)."""
    if error.code() == KafkaError._MSG_TIMED_OUT:
        return "delivery_timeout"
    return f"kafka_{error.name().lower().lstrip('_')}"
