"""The timestamp of the record at a given offset, read from Kafka and kept in a bounded cache.

Lag in seconds is exact this way: the age of the first record the group has not consumed (the
record at its committed offset). A record is read once; the cache keeps the newest
`capacity` (topic, partition, offset) entries. Reading is batched: one consumer is assigned
every partition to read at its offset, and the first record of each partition answers.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable

from confluent_kafka import Consumer, TopicPartition

from databus.security.client import secured

Key = tuple[str, int, int]


class TimestampCache:
    """Record timestamps by (topic, partition, offset), oldest evicted first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Key, float] = OrderedDict()

    def get(self, key: Key) -> float | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Key, value: float) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class TimestampReader:
    """Reads the timestamp of the record at an offset of many partitions at once."""

    def __init__(self, bootstrap: str, client_config: dict[str, object] | None = None) -> None:
        config: dict[str, object] = {
            "bootstrap.servers": bootstrap,
            "group.id": f"databus-monitor-ts-{uuid.uuid4().hex[:8]}",  # never joins, never commits
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.wait.max.ms": 50,
            "max.partition.fetch.bytes": 65536,
            "fetch.max.bytes": 8 * 1024 * 1024,
            "queued.max.messages.kbytes": 65536,
        }
        config.update(client_config or {})
        self._consumer = Consumer(secured(config))

    def read(self, wanted: Iterable[Key], timeout: float) -> dict[Key, float]:
        """Unix timestamps of the records at `wanted` offsets (those read within `timeout`).

        When the record at an offset is gone (compaction, transaction markers), the next record
        of the partition answers for it. Offsets of one partition are read in rounds (an
        assignment holds each partition once).
        """
        rounds: dict[tuple[str, int], list[int]] = {}
        for t, p, o in dict.fromkeys(wanted):
            rounds.setdefault((t, p), []).append(o)
        found: dict[Key, float] = {}
        deadline = time.monotonic() + timeout
        while rounds and time.monotonic() < deadline:
            batch = {tp: offsets.pop(0) for tp, offsets in rounds.items()}
            rounds = {tp: offsets for tp, offsets in rounds.items() if offsets}
            found.update(self._read_round(batch, deadline))
        return found

    def _read_round(self, pending: dict[tuple[str, int], int], deadline: float) -> dict[Key, float]:
        self._consumer.assign([TopicPartition(t, p, o) for (t, p), o in pending.items()])
        found: dict[Key, float] = {}
        paused: list[TopicPartition] = []
        try:
            while pending and time.monotonic() < deadline:
                done = []
                for msg in self._consumer.consume(num_messages=1000, timeout=0.2):
                    if msg.error() is not None:
                        continue
                    tp = (msg.topic() or "", msg.partition() or 0)
                    offset = pending.pop(tp, None)
                    if offset is None:
                        continue
                    found[(tp[0], tp[1], offset)] = msg.timestamp()[1] / 1000.0
                    done.append(TopicPartition(tp[0], tp[1]))
                if done:  # stop fetching what is answered
                    self._consumer.pause(done)
                    paused.extend(done)
        finally:
            if paused:  # a pause outlives the assignment: lift it for the next round
                self._consumer.resume(paused)
            self._consumer.unassign()
        return found

    def close(self) -> None:
        self._consumer.close()
