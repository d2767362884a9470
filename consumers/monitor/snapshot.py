"""What one collection saw: every group's position on every partition, with record times.

Lag in seconds is computed when asked (`lag_seconds(now)`), from the timestamp of the first
unconsumed record, so it keeps growing between collections while a consumer stands still.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PartitionPosition:
    """Where one group stands on one partition."""

    topic: str
    partition: int
    committed: int | None
    """The group's committed offset; None when it committed none there."""
    start: int
    """The partition's log-start offset (the oldest record still kept)."""
    end: int
    """The partition's log-end offset (high watermark)."""
    oldest_timestamp: float | None = None
    """Unix time of the first unconsumed record (None: caught up, or not read yet)."""

    @property
    def lag(self) -> int:
        """Records not yet consumed: the whole retained partition when nothing is committed."""
        base = self.start if self.committed is None else max(self.committed, self.start)
        return max(0, self.end - base)

    @property
    def next_offset(self) -> int:
        """The offset of the first unconsumed record."""
        return self.start if self.committed is None else max(self.committed, self.start)

    def lag_seconds(self, now: float) -> float | None:
        """Age of the first unconsumed record; 0 when caught up; None when not known."""
        if self.lag == 0:
            return 0.0
        if self.oldest_timestamp is None:
            return None
        return max(0.0, now - self.oldest_timestamp)


@dataclass(frozen=True, slots=True)
class GroupPosition:
    """A consumer group: its live members and its positions on the bus's topics."""

    group: str
    members: int
    state: str
    partitions: tuple[PartitionPosition, ...]

    def on_topic(self, topic: str) -> list[PartitionPosition]:
        return [p for p in self.partitions if p.topic == topic]

    def topics(self) -> list[str]:
        return sorted({p.topic for p in self.partitions})


def topic_lag(positions: Iterable[PartitionPosition]) -> int:
    """Messages not consumed, summed over partitions."""
    return sum(p.lag for p in positions)


def topic_lag_seconds(positions: Iterable[PartitionPosition], now: float) -> float | None:
    """Age of the oldest unconsumed record over partitions (None if some lagging one is unknown
    and none is known)."""
    known = [s for s in (p.lag_seconds(now) for p in positions) if s is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class Collection:
    """One collection: when it ran, how long it took, and what it saw (or why it failed)."""

    started_at: float
    finished_at: float
    groups: dict[str, GroupPosition] = field(default_factory=dict)
    error: str | None = None
    """A reason code when the collection failed (then `groups` is empty)."""
    timestamps_fetched: int = 0
    timestamps_missing: int = 0
    newest_record_at: dict[str, float] = field(default_factory=dict)
    """Topic -> Unix time of its newest record (for "last event seen")."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at
