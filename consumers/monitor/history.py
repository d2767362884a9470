"""The last hour of every connection (lag, lag seconds, freshness p99), for the board's charts."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Point:
    at: float
    lag_messages: int
    lag_seconds: float
    freshness_p99: float | None


class History:
    """A bounded series per connection; at most one point per `step` seconds."""

    def __init__(self, span: float = 3600.0, step: float = 5.0) -> None:
        self.span = span
        self.step = step
        self._series: dict[str, deque[Point]] = {}
        self._lock = threading.Lock()

    def add(self, connection: str, point: Point) -> None:
        with self._lock:
            series = self._series.setdefault(connection, deque())
            if series and point.at - series[-1].at < self.step:
                series[-1] = point
            else:
                series.append(point)
            while series and series[0].at < point.at - self.span:
                series.popleft()

    def series(self, connection: str) -> list[Point]:
        with self._lock:
            return list(self._series.get(connection, ()))
