"""Produce one batch of outbox rows in id order and collect their delivery reports."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from databus.security.signing import EventSigner
from producers.outbox.diagnostics import describe_error, kafka_error_name
from producers.outbox.schema_ids import SchemaHeaders

log = logging.getLogger("producers.outbox.relay")

_PENDING, _DELIVERED, _FAILED = 0, 1, 2


@dataclass(slots=True)
class DeliveryBatch:
    """Delivery state of one produced batch."""

    status: bytearray
    pending: int = 0
    errors: dict[int, KafkaError] = field(default_factory=dict)
    fatal: bool = False

    def report(self, index: int, err: KafkaError | None, _msg: Any) -> None:
        self.pending -= 1
        if err is None:
            self.status[index] = _DELIVERED
        else:
            self.status[index] = _FAILED
            self.errors[index] = err
            self.fatal = self.fatal or err.fatal()

    def delivered_prefix(self) -> int:
        """Number of leading rows all delivered."""
        ends = [i for i in (self.status.find(_PENDING), self.status.find(_FAILED)) if i >= 0]
        return min(ends, default=len(self.status))


class BatchPublisher:
    """Produces rows (`id, topic, msg_key, event_id, event_type, fingerprint, body`) in order.

    Stops producing at the first row that cannot be framed or is refused locally, so that what
    was produced is always a prefix of the batch; waits for every report, at most `stop_grace`
    seconds more once `stop` is set.
    """

    def __init__(
        self,
        headers: SchemaHeaders,
        table_name: str,
        stop_grace: float,
        signer: EventSigner | None = None,
    ) -> None:
        self.headers = headers
        self.signer = signer
        self.table_name = table_name
        self.stop_grace = stop_grace

    def publish(
        self, producer: Producer, rows: Sequence[Any], stop: threading.Event
    ) -> DeliveryBatch:
        """Produce the rows in order and wait for their delivery reports."""
        batch = DeliveryBatch(bytearray(len(rows)))
        report = batch.report
        headers = self.headers
        cache = headers.cache  # the hot path skips a method call per row
        produce = producer.produce
        signer = self.signer
        for index, (outbox_id, topic, key, event_id, event_type, fingerprint, body) in enumerate(
            rows
        ):
            header = cache.get((topic, fingerprint))
            if header is None:
                try:
                    header = headers.header(topic, fingerprint)
                except KeyError:
                    log.error(
                        "outbox %s: row %d has schema fingerprint %s, which no shipped schema has",
                        self.table_name,
                        outbox_id,
                        fingerprint,
                    )
                    break
                except Exception as exc:  # the registry refused or is unreachable
                    log.warning(
                        "outbox %s: no registry id for row %d (%s)",
                        self.table_name,
                        outbox_id,
                        describe_error(exc),
                    )
                    break
            message_headers: list[tuple[str, str | bytes | None]] = [
                ("event_id", event_id),
                ("event_type", event_type),
                ("outbox_id", str(outbox_id)),
            ]
            if signer is not None:
                message_headers += signer.headers(topic, key, header + body, event_id)
            callback = partial(report, index)
            while True:
                try:
                    produce(
                        topic,
                        header + body,
                        key,
                        headers=message_headers,
                        on_delivery=callback,
                    )
                    batch.pending += 1
                    break
                except BufferError:  # local queue full: let deliveries drain it
                    producer.poll(0.05)
                except KafkaException as exc:  # refused locally (e.g. message too large)
                    batch.status[index] = _FAILED
                    batch.errors[index] = exc.args[0]
                    break
            if batch.status[index] == _FAILED:
                break
        self._await(producer, batch, stop)
        for index, err in list(batch.errors.items())[:5]:
            log.error(
                "outbox %s: row %d not delivered (%s)",
                self.table_name,
                rows[index][0],
                kafka_error_name(err),
            )
        return batch

    def _await(self, producer: Producer, batch: DeliveryBatch, stop: threading.Event) -> None:
        """Wait for every delivery report (librdkafka's delivery timeout bounds the wait).

        After `stop`, wait at most `stop_grace` more seconds; unreported rows stay unpublished.
        """
        give_up: float | None = None
        while batch.pending > 0:
            producer.flush(0.2)
            if stop.is_set():
                now = time.monotonic()
                give_up = give_up or now + self.stop_grace
                if now >= give_up:
                    log.warning(
                        "outbox %s: stopping with %d deliveries unconfirmed; they will be resent",
                        self.table_name,
                        batch.pending,
                    )
                    return
