"""Where one consumer group stands, asked as often as wanted (tests and benches wait on it).

A thin use of the monitor's `LagCollector` for one group and its topics, without record
timestamps; it replaces the former `databus/consumer_lag.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

from consumers.monitor.collector import LagCollector
from consumers.monitor.snapshot import PartitionPosition


class GroupWatch:
    """The committed offsets and lag of `group` on `topics`."""

    def __init__(self, bootstrap: str, group: str, topics: str | Sequence[str]) -> None:
        self.group = group
        names = [topics] if isinstance(topics, str) else list(topics)
        self._collector = LagCollector(
            bootstrap, names, {group: names}, timeout=10.0, fetch_budget=0
        )

    def positions(self) -> list[PartitionPosition]:
        """The group's position on every partition of its topics; raises if Kafka fails."""
        collection = self._collector.collect()
        if not collection.ok:
            raise RuntimeError(f"cannot read the offsets of group {self.group}: {collection.error}")
        group = collection.groups.get(self.group)
        return list(group.partitions) if group else []

    def total(self) -> int:
        """The committed offsets summed over the partitions (0 for none)."""
        return sum(p.committed or 0 for p in self.positions())

    def close(self) -> None:
        self._collector.close()
