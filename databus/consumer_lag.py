"""Where a consumer group stands: its committed offsets, and against the end of each partition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition


@dataclass(frozen=True)
class PartitionLag:
    """Where a group stands on one partition."""

    topic: str
    partition: int
    committed: int
    """The group's committed offset (0 when it committed none)."""
    end: int
    """The partition's high watermark (the offset the next record will get)."""

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


class CommittedOffsets:
    """A group's committed offsets on some topics, read as often as wanted through one
    read-only consumer (it joins no group and commits nothing)."""

    def __init__(self, bootstrap: str, group: str, topics: str | Sequence[str]) -> None:
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        self.partitions = [
            TopicPartition(topic, p)
            for topic in ([topics] if isinstance(topics, str) else topics)
            for p in sorted(self.consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        ]

    def total(self) -> int:
        """The committed offsets summed over the partitions (0 for none)."""
        found = self.consumer.committed(self.partitions, timeout=10)
        return sum(max(tp.offset, 0) for tp in found)

    def lags(self) -> list[PartitionLag]:
        """Where the group stands on every partition, against its end."""
        out = []
        for tp in self.consumer.committed(self.partitions, timeout=10):
            _, end = self.consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), 10)
            out.append(PartitionLag(tp.topic, tp.partition, max(tp.offset, 0), end))
        return out

    def close(self) -> None:
        self.consumer.close()
