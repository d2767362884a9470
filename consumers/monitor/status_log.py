"""Every change of a connection's status: one structured log line and one event on
`bus.connection-status.v1` (keyed by connection); on start, the last status of each connection
is read back from that topic, so history survives restarts."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from databus.security.client import secured
from databus.serde import DecodeError, Decoder, Encoder
from schemas.models.downstream import ConnectionStatusChanged

log = logging.getLogger("databus.monitor.status")


def log_change(change: ConnectionStatusChanged) -> None:
    """The structured line: one JSON object (no personal values: names from the topology)."""
    record = {
        "event": "connection_status_changed",
        "connection": change.connection,
        "status": change.status.value,
        "previous": change.previous.value if change.previous else None,
        "reason": change.reason,
        "detail": change.detail,
        "lag_messages": change.lag_messages,
        "lag_seconds": round(change.lag_seconds, 3),
        "changed_at": change.changed_at.isoformat(),
    }
    log.warning(json.dumps(record, sort_keys=True))


class StatusPublisher:
    """Publishes status changes; a failure to publish is logged, never fatal (it is retried by
    the producer while the broker is away)."""

    def __init__(self, bootstrap: str, topic: str, encoder: Encoder) -> None:
        self.topic = topic
        self.encoder = encoder
        self._producer = Producer(
            secured(
                {
                    "bootstrap.servers": bootstrap,
                    "enable.idempotence": True,
                    "acks": "all",
                    "message.timeout.ms": 300_000,
                }
            )
        )

    def publish(self, change: ConnectionStatusChanged) -> None:
        try:
            value = self.encoder.encode(change)
            self._producer.produce(self.topic, value, change.connection.encode())
        except Exception as exc:  # the monitor must go on judging
            log.warning(
                "status change of %s not published: %s", change.connection, type(exc).__name__
            )
        self._producer.poll(0)

    def flush(self, timeout: float = 10.0) -> int:
        return int(self._producer.flush(timeout))


def read_last_statuses(
    bootstrap: str, topic: str, decoder: Decoder, *, timeout: float = 10.0
) -> dict[str, ConnectionStatusChanged]:
    """The newest status change of every connection on the topic (empty if none, or no topic)."""
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"databus-monitor-read-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
            }
        )
    )
    out: dict[str, ConnectionStatusChanged] = {}
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return out
        ends: dict[int, int] = {}
        starts = []
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                ends[p] = high
                starts.append(TopicPartition(topic, p, low))
        if not starts:
            return out
        consumer.assign(starts)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                if msg.error() is not None:
                    continue
                partition, offset = msg.partition() or 0, msg.offset() or 0
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
                _keep(out, decoder, msg.value())
    except KafkaException as exc:
        log.warning("last statuses not read back: %s", type(exc).__name__)
    finally:
        consumer.close()
    return out


def _keep(out: dict[str, ConnectionStatusChanged], decoder: Decoder, value: Any) -> None:
    try:
        change = decoder.decode(value)
    except DecodeError:
        return
    assert isinstance(change, ConnectionStatusChanged)
    known = out.get(change.connection)
    if known is None or change.changed_at >= known.changed_at:
        out[change.connection] = change


def now_utc() -> datetime:
    return datetime.now(UTC)
