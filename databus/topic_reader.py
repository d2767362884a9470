"""Read a whole topic from the beginning to its current end (tools, tests, the DLQ CLI)."""

from __future__ import annotations

import functools
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from databus.kafka_retry import retrying
from databus.security.client import secured

RETRIES = 8


def read_all(bootstrap: str, topic: str, *, timeout: float = 60.0) -> list[Message]:
    """All records of `topic` up to its current end offsets, in partition/offset order."""
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"read-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,
            }
        )
    )
    try:
        metadata = retrying(lambda: consumer.list_topics(topic, timeout=10), RETRIES)
        partitions = sorted(metadata.topics[topic].partitions)

        def end_offset(partition: int) -> int:
            low_high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            return int(low_high[1])

        ends = {p: retrying(functools.partial(end_offset, p), RETRIES) for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        done = {p for p in partitions if ends[p] == 0}
        out: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(done) < len(partitions) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        if (msg.offset() or 0) >= ends[msg.partition() or 0]:
                            done.add(msg.partition() or 0)
                        continue
                    if error.fatal():
                        raise RuntimeError(str(error))
                    continue  # transient (leader moved, transport): the client retries
                out.append(msg)
                if (msg.offset() or 0) + 1 >= ends[msg.partition() or 0]:
                    done.add(msg.partition() or 0)
        if len(done) < len(partitions):
            raise TimeoutError(f"did not reach the end of {topic} within {timeout} s")
        return sorted(out, key=lambda m: (m.partition() or 0, m.offset() or 0))
    finally:
        consumer.close()


def header(message: Message, name: str) -> str:
    """A header of a message as text ('' when absent)."""
    headers: list[tuple[str, bytes | None]] = list(message.headers() or [])  # type: ignore[arg-type]
    for key, value in headers:
        if key == name:
            return value.decode() if isinstance(value, bytes) else str(value or "")
    return ""
