"""Metrics kept locally per delivery and added to Prometheus in bulk.

A Prometheus `Histogram.observe` walks the buckets in Python and takes two locks (about 1.3 µs)
and a `Counter.inc` takes one; at tens of thousands of deliveries per second that is a
measurable share of the publisher's time. The publisher records each delivery here (a bisect and
two additions) and adds the totals to the real metrics once per poll of delivery reports, so a
scrape sees them at most one poll (milliseconds) late. Not thread-safe: the publisher records
and flushes under its poll lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any, Protocol


class _Value(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class HistogramTally:
    """Observations of one labelled histogram child, added to it in bulk by `flush`.

    Writes the child's per-bucket values and sum as `Histogram.observe` does (bucket `i` holds
    the observations `<= bound i` and above the previous bound); a unit test holds the two
    paths together.
    """

    def __init__(self, child: Any) -> None:
        self._bounds: list[float] = list(child._upper_bounds)
        self._buckets: list[_Value] = list(child._buckets)
        self._sum: _Value = child._sum
        self._counts = [0] * len(self._bounds)
        self._total = 0.0
        self._pending = False

    def observe(self, amount: float) -> None:
        """Record one observation (not yet visible to a scrape)."""
        self._counts[bisect_left(self._bounds, amount)] += 1
        self._total += amount
        self._pending = True

    def flush(self) -> None:
        """Add what was recorded since the last flush to the histogram."""
        if not self._pending:
            return
        counts = self._counts
        for i, count in enumerate(counts):
            if count:
                self._buckets[i].inc(count)
                counts[i] = 0
        self._sum.inc(self._total)
        self._total = 0.0
        self._pending = False


class CounterTally:
    """Increments of a counter family by one label value, added to it in bulk by `flush`."""

    def __init__(self, child_of: Callable[[str], _Value]) -> None:
        self._child_of = child_of
        self._children: dict[str, _Value] = {}
        self._counts: dict[str, int] = {}

    def inc(self, label: str) -> None:
        """Count one (not yet visible to a scrape)."""
        counts = self._counts
        counts[label] = counts.get(label, 0) + 1

    def flush(self) -> None:
        """Add the counts since the last flush to the counters."""
        if not self._counts:
            return
        for label, count in self._counts.items():
            child = self._children.get(label)
            if child is None:
                child = self._children[label] = self._child_of(label)
            child.inc(count)
        self._counts = {}
