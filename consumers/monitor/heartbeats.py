"""Follow `bus.heartbeats.v1` and remember when each agency's publisher last spoke."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from databus.security.client import secured
from databus.serde import DecodeError, Decoder
from schemas.models.downstream import Heartbeat

log = logging.getLogger(__name__)


class HeartbeatFollower:
    """A background reader of the heartbeat topic (no group, nothing committed); it starts
    `lookback` seconds back so that a restarted monitor knows recent heartbeats at once."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        decoder: Decoder,
        *,
        lookback: float = 900.0,
        client_config: dict[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.decoder = decoder
        self.lookback = lookback
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": f"databus-monitor-hb-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
        config.update(client_config or {})
        self._config = config
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._assigned = False

    def last_seen(self) -> dict[str, float]:
        """Agency id -> Unix time of its newest heartbeat."""
        with self._lock:
            return dict(self._last)

    def _assign(self, consumer: Consumer) -> None:
        metadata = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return
        since = int((time.time() - self.lookback) * 1000)
        wanted = [TopicPartition(self.topic, p, since) for p in metadata.partitions]
        consumer.assign(consumer.offsets_for_times(wanted, timeout=5))
        self._assigned = True

    def run(self, stop: threading.Event) -> None:
        """Read until `stop` is set; broker failures are waited out."""
        consumer = Consumer(secured(self._config))
        try:
            while not stop.is_set():
                try:
                    if not self._assigned:
                        self._assign(consumer)
                        if not self._assigned:
                            stop.wait(2.0)
                            continue
                    self._take(consumer.consume(num_messages=500, timeout=0.5))
                except KafkaException as exc:
                    log.warning("heartbeats: %s; retrying", type(exc).__name__)
                    stop.wait(1.0)
        finally:
            consumer.close()

    def _take(self, messages: list[Any]) -> None:
        for msg in messages:
            if msg.error() is not None:
                continue
            try:
                beat = self.decoder.decode(msg.value())
            except DecodeError as exc:
                log.warning("heartbeat at offset %s not decoded: %s", msg.offset(), exc.reason)
                continue
            assert isinstance(beat, Heartbeat)
            at = beat.sent_at.timestamp()
            with self._lock:
                if at > self._last.get(beat.source, 0.0):
                    self._last[beat.source] = at
