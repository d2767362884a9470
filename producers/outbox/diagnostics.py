"""Name an error for a log line: its class and first message line, never a key, value or SQL
parameter."""

from __future__ import annotations

from confluent_kafka import KafkaError
from confluent_kafka.schema_registry.error import SchemaRegistryError
from sqlalchemy.exc import DBAPIError


def kafka_error_name(err: object) -> str:
    """A Kafka error as `NAME: text`; any other object as its class name."""
    if isinstance(err, KafkaError):
        return f"{err.name()}: {err.str()}"
    return type(err).__name__


def describe_error(exc: BaseException) -> str:
    """Exception class and the driver's first message line; never SQL parameters."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        first = str(exc.orig).strip().splitlines()
        return f"{type(exc.orig).__name__}: {first[0] if first else ''}"
    if isinstance(exc, SchemaRegistryError):
        return f"registry error {exc.http_status_code}/{exc.error_code}: {exc.error_message}"
    return type(exc).__name__
