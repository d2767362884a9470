"""The dead-letter path: records a component cannot decode or apply, kept with the reason.

Every dead letter goes to `bus.dead-letter.v1`, keyed like the original, with headers naming
the original topic, partition and offset, the consumer, the error class, a reason code and a
message without personal values; its value is a `DeadLetter` record holding the original key
and value bytes, and the original's own headers travel as `dlq.original.header.<name>` (the
event id, the signature and its key id...), so `databus dlq replay` can re-submit it unchanged
after a fix, still signed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
H_ORIGINAL_PREFIX: Final = "dlq.original.header."
"""Prefix of the original record's headers, kept on its dead letter."""

HeaderValue = str | bytes | None
Headers = Sequence[tuple[str, HeaderValue]] | Mapping[str, HeaderValue] | None
"""Record headers as confluent-kafka (a list) or faust (a list or a mapping) hands them over."""


def header_items(headers: Headers) -> list[tuple[str, bytes]]:
    """`headers` as (name, bytes) pairs in order, without empty (None) values."""
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [
        (str(name), value.encode() if isinstance(value, str) else bytes(value))
        for name, value in items
        if value is not None
    ]


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
            headers=message.headers(),
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
        headers: Headers = None,
    ) -> None:
        """Dead-letter a record given by its parts (for consumers that are not confluent's);
        `headers`: the original's, kept for the replay."""
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
        dlq_headers: list[tuple[str, str | bytes | None]] = [
            (H_TOPIC, topic),
            (H_PARTITION, str(partition)),
            (H_OFFSET, str(offset)),
            (H_CONSUMER, self.consumer),
            (H_ERROR_CLASS, failure.error_class),
            (H_REASON, failure.reason),
            (H_MESSAGE, failure.message),
            *((H_ORIGINAL_PREFIX + name, data) for name, data in header_items(headers)),
        ]
        while True:
            try:
                self.producer.produce(
                    self.topic, self.encoder.encode(record), key_bytes, headers=dlq_headers
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
    original_headers: tuple[tuple[str, bytes], ...] = ()
    """The original record's headers (its event id, signature...), to replay with it."""

    def replay_headers(self) -> list[tuple[str, str | bytes | None]]:
        """The headers of its replay: the original's, then where it was replayed from."""
        kept: list[tuple[str, str | bytes | None]] = [
            (k, v) for k, v in self.original_headers if k != H_REPLAYED_FROM
        ]
        return [*kept, (H_REPLAYED_FROM, f"{self.partition}/{self.offset}")]


def read_dead_letters(
    messages: Iterator[Message] | list[Message], decoder: Decoder
) -> list[StoredDeadLetter]:
    """Decode dead-letter messages (in the order given)."""
    out = []
    for message in messages:
        record = decoder.decode(message.value())
        assert isinstance(record, DeadLetter)
        original = tuple(
            (name.removeprefix(H_ORIGINAL_PREFIX), value)
            for name, value in header_items(message.headers())
            if name.startswith(H_ORIGINAL_PREFIX)
        )
        out.append(
            StoredDeadLetter(message.offset() or 0, message.partition() or 0, record, original)
        )
    return out
