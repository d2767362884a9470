"""Consumer lag of a group: committed offsets against the end of each partition."""

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


def group_lag(bootstrap: str, group: str, topics: Sequence[str]) -> list[PartitionLag]:
    """Lag of `group` on every partition of `topics` (read-only: joins no group)."""
    probe = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in probe.list_topics(topic, timeout=10).topics[topic].partitions
        ]
        committed = probe.committed(partitions, timeout=10)
        out = []
        for tp in committed:
            _, end = probe.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), 10)
            out.append(PartitionLag(tp.topic, tp.partition, max(tp.offset, 0), end))
        return out
    finally:
        probe.close()


class CommittedOffsets:
    """A group's committed offsets on one topic, read as often as wanted through one
    read-only consumer (it joins no group and commits nothing)."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        metadata = self.consumer.list_topics(topic, timeout=10).topics[topic]
        self.partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]

    def total(self) -> int:
        """The committed offsets summed over the topic's partitions (0 for none)."""
        found = self.consumer.committed(self.partitions, timeout=10)
        return sum(max(tp.offset, 0) for tp in found)

    def close(self) -> None:
        self.consumer.close()
