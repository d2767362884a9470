"""Freshness p99 per connection, read from the components' `databus_connection_freshness_seconds`
histograms (their /metrics URLs are listed in the monitor's settings).

The quantile is computed like PromQL's `histogram_quantile` (linear inside the bucket) over the
increase of the buckets since the oldest scrape kept (about `span` seconds); before a second
scrape, over the cumulative counts. Without URLs, or before any event, it is None (shown "—").
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)

METRIC = "databus_connection_freshness_seconds"
Buckets = dict[float, float]
"""Upper bound -> cumulative count."""


def parse_buckets(text: str) -> dict[str, Buckets]:
    """Connection -> cumulative bucket counts, from one exposition."""
    out: dict[str, Buckets] = {}
    for family in text_string_to_metric_families(text):
        if family.name != METRIC:
            continue
        for sample in family.samples:
            if sample.name != f"{METRIC}_bucket":
                continue
            connection = sample.labels.get("connection")
            if connection is None:
                continue
            le = float(sample.labels["le"])
            buckets = out.setdefault(connection, {})
            buckets[le] = buckets.get(le, 0.0) + float(sample.value)
    return out


def quantile(q: float, buckets: Buckets) -> float | None:
    """The q-quantile (0..1) of a cumulative histogram, PromQL-style; None without counts."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _minus(new: Buckets, old: Buckets) -> Buckets:
    return {le: max(0.0, c - old.get(le, 0.0)) for le, c in new.items()}


class FreshnessReader:
    """Scrapes the components now and then; `p99()` gives the recent quantile per connection."""

    def __init__(self, urls: Sequence[str], *, span: float = 300.0, timeout: float = 2.0) -> None:
        self.urls = list(urls)
        self.span = span
        self.timeout = timeout
        self._scrapes: deque[tuple[float, dict[str, Buckets]]] = deque()
        self._lock = threading.Lock()

    def scrape(self) -> None:
        merged: dict[str, Buckets] = {}
        for url in self.urls:
            try:
                text = httpx.get(url, timeout=self.timeout).text
            except httpx.HTTPError as exc:
                log.info("freshness: %s unreachable (%s)", url, type(exc).__name__)
                continue
            for connection, buckets in parse_buckets(text).items():
                target = merged.setdefault(connection, {})
                for le, c in buckets.items():
                    target[le] = target.get(le, 0.0) + c
        now = time.time()
        with self._lock:
            self._scrapes.append((now, merged))
            while len(self._scrapes) > 2 and self._scrapes[1][0] < now - self.span:
                self._scrapes.popleft()

    def p99(self, q: float = 0.99) -> dict[str, float]:
        with self._lock:
            if not self._scrapes:
                return {}
            _, newest = self._scrapes[-1]
            _, oldest = self._scrapes[0]
        out = {}
        for connection, buckets in newest.items():
            recent = (
                _minus(buckets, oldest.get(connection, {})) if oldest is not newest else buckets
            )
            value = quantile(q, recent)
            if value is None:
                value = quantile(q, buckets)
            if value is not None:
                out[connection] = value
        return out
