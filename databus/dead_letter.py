"""The dead-letter path: records a component cannot decode or apply, kept with the reason.

Every dead letter goes to `bus.dead-letter.v1`, keyed like the original, with headers naming
the original topic, partition and offset, the consumer, the error class, a reason code and a
message without personal values; its value is a `DeadLetter` record holding the original key
and value bytes, so `databus dlq replay` can re-submit it unchanged after a fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from confluent_kafka import Message, Producer

from databus.serde import Decoder, Encoder
from schemas.models.downstream import DeadLetter

H_TOPIC: Final = "dlq.original.topic"
H_PARTITION: Final = "dlq.original.partition"
H_OFFSET: Final = "dlq.original.offset"
H_CONSUMER: Final = "dlq.consumer"
H_ERROR_CLASS: Final = "dlq.error.class"
H_REASON: Final = "dlq.reason"
H_MESSAGE: Final = "dlq.message"
H_REPLAYED_FROM: Final = "dlq.replayed_from"


@dataclass(frozen=True)
class Failure:
    """Why a record was given up on (reason: a code; message: no personal values)."""

    reason: str
    message: str
    error_class: str


class DeadLetterWriter:
    """Sends dead letters for one consumer (component name) through a shared producer."""

    def __init__(self, producer: Producer, encoder: Encoder, consumer: str) -> None:
        self.producer = producer
        self.encoder = encoder
        self.consumer = consumer
        self.topic = encoder.topic

    def send(self, message: Message, failure: Failure) -> None:
        """Dead-letter `message` (the original, as received) for `failure`."""
        self.send_raw(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=message.key(),
            value=message.value(),
            failure=failure,
        )

    def send_raw(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | str | None,
        value: bytes | str | None,
        failure: Failure,
    ) -> None:
        """Dead-letter a record given by its parts (for consumers that are not confluent's)."""
        key_bytes = key.encode() if isinstance(key, str) else key
        value_bytes = value.encode() if isinstance(value, str) else value
        record = DeadLetter(
            original_topic=topic,
            original_partition=partition,
            original_offset=offset,
            original_key=key_bytes,
            original_value=value_bytes,
            consumer=self.consumer,
            error_class=failure.error_class,
            reason=failure.reason,
            message=failure.message,
            failed_at=datetime.now(UTC),
        )
        headers: list[tuple[str, str | bytes | None]] = [
            (H_TOPIC, topic),
            (H_PARTITION, str(partition)),
            (H_OFFSET, str(offset)),
            (H_CONSUMER, self.consumer),
            (H_ERROR_CLASS, failure.error_class),
            (H_REASON, failure.reason),
            (H_MESSAGE, failure.message),
        ]
        while True:
            try:
                self.producer.produce(
                    self.topic, self.encoder.encode(record), key_bytes, headers=headers
                )
                return
            except BufferError:
                self.producer.poll(0.05)


@dataclass(frozen=True)
class StoredDeadLetter:
    """A dead letter as read back from the topic."""

    offset: int
    partition: int
    record: DeadLetter


def read_dead_letters(
    messages: Iterator[Message] | list[Message], decoder: Decoder
) -> list[StoredDeadLetter]:
    """Decode dead-letter messages (in the order given)."""
    out = []
    for message in messages:
        record = decoder.decode(message.value())
        assert isinstance(record, DeadLetter)
        out.append(StoredDeadLetter(message.offset() or 0, message.partition() or 0, record))
    return out
