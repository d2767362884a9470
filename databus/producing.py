"""Producing without losing a record: wait for room in the client's queue, and flush until
everything was delivered (the client retries delivery itself; we only wait, with backoff)."""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import Producer

log = logging.getLogger(__name__)


def produce_waiting(producer: Producer, topic: str, value: bytes, key: Any, **options: Any) -> None:
    """`producer.produce(...)`, serving delivery reports while the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key, **options)
            return
        except BufferError:
            producer.poll(0.05)


def flush_patiently(producer: Producer, what: str, *, max_backoff: float = 30.0) -> None:
    """Flush until nothing is outstanding, logging `what` is not yet delivered between tries."""
    delay = 0.5
    while producer.flush(10) > 0:
        log.warning("%s not yet delivered; retrying in %.1f s", what, delay)
        time.sleep(delay)
        delay = min(delay * 2, max_backoff)
