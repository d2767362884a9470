"""Retry Kafka calls on transient broker answers (coordinator loading, leader moved, ...)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")

TRANSIENT = frozenset(
    {
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.REQUEST_TIMED_OUT,
    }
)


def error_code(exc: BaseException) -> int | None:
    """The Kafka error code carried by `exc`, if any."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return int(exc.args[0].code())
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may well succeed."""
    if not isinstance(exc, KafkaException) or not exc.args:
        return False
    err = exc.args[0]
    return isinstance(err, KafkaError) and (err.code() in TRANSIENT or bool(err.retriable()))


def reason_code(exc: BaseException) -> str:
    """A bounded reason label for a failure (a Kafka error name, lowercased, or the class)."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].name()).lower().lstrip("_") or "kafka"
    return type(exc).__name__.lower()


def retrying(call: Callable[[], T], retries: int, *, backoff: float = 0.2) -> T:
    """`call()`, retried up to `retries` times while it fails transiently."""
    attempt = 0
    while True:
        try:
            return call()
        except KafkaException as exc:
            if attempt >= retries or not is_transient(exc):
                raise
            attempt += 1
            time.sleep(backoff * 2 ** (attempt - 1))
