"""Exact freshness of a connection, measured where its data lands, after the commit.

`applied_at - occurred_at` of every applied event goes into
`databus_connection_freshness_seconds{connection}` and the newest `occurred_at` into
`databus_connection_watermark_timestamp_seconds{connection}` (docs/observability.md).

- The population sync keys events by their (prefixed) source topic: the topic names the
  source, the topology names the `source:<name> -> population` connection.
- A sector sink has one key, its sector: the `population -> sector:<name>` connection. The
  occurred_at of the originating change travels with each projection in the Kafka header
  `occurred_at_ms` (`OCCURRED_AT_HEADER`), set by the router; snapshots (backfill, repair)
  have no change behind them and carry no header, so they are not observed.

Labels come from the topology only; nothing here sees a PIN or a value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from prometheus_client import Histogram

from databus.metrics import CONNECTION_WATERMARK, connection_freshness
from databus.topology.model import Endpoint, Topology
from databus.topology.topics import Topics

OCCURRED_AT_HEADER = "occurred_at_ms"
"""Header of a sector projection: occurred_at of the originating change, Unix milliseconds."""


def freshness_objectives(topology: Topology) -> list[float]:
    """Every freshness objective of the topology, in seconds (the histogram's must-have
    buckets)."""
    return sorted({c.objectives.freshness.seconds for c in topology.connections.values()})


def occurred_at_header(occurred_at: datetime) -> tuple[str, str | bytes | None]:
    """The header a projection carries for the freshness of its connection."""
    return OCCURRED_AT_HEADER, str(round(occurred_at.timestamp() * 1000)).encode("ascii")


Headers = Mapping[str, str | bytes | None] | Iterable[tuple[str, str | bytes | None]]


def occurred_at_of(headers: Headers | None) -> datetime | None:
    """The occurred_at a record's headers carry, or None (no header, or not a number)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for key, value in pairs:
        if key != OCCURRED_AT_HEADER or value is None:
            continue
        try:
            millis = int(value)
        except ValueError:
            return None
        return datetime.fromtimestamp(millis / 1000, UTC)
    return None


class ConnectionFreshness:
    """Observes freshness and watermark per connection; `key` picks the connection."""

    def __init__(self, topology: Topology, connections: Mapping[str, Iterable[str]]) -> None:
        self._histogram: Histogram = connection_freshness(freshness_objectives(topology))
        self._connections = {key: tuple(names) for key, names in connections.items()}
        self._watermarks: dict[str, float] = {}
        self._lock = threading.Lock()
        for names in self._connections.values():
            for name in names:  # every series from the start: rates exist before traffic
                self._histogram.labels(name)

    @classmethod
    def for_population(cls, topology: Topology, topics: Topics) -> ConnectionFreshness:
        """Keyed by source topic: its `source -> population` connections."""
        mapping = {
            topics.source_topic(source): [
                name
                for name, conn in topology.connections_of_source(source).items()
                if conn.downstream == Endpoint("population", None)
            ]
            for source in topology.sources
        }
        return cls(topology, mapping)

    @classmethod
    def for_sector(cls, topology: Topology, sector: str) -> ConnectionFreshness:
        """Keyed by the sector's name: its `population -> sector` connections."""
        names = [
            name
            for name, conn in topology.connections_of_sector(sector).items()
            if conn.upstream == Endpoint("population", None)
        ]
        return cls(topology, {sector: names})

    def connections(self, key: str) -> tuple[str, ...]:
        """The connections an event under `key` belongs to (empty: not monitored)."""
        return self._connections.get(key, ())

    def observe(self, key: str, occurred_at: datetime, applied_at: datetime) -> None:
        """Record one event applied (committed) at `applied_at`."""
        names = self._connections.get(key)
        if not names:
            return
        seconds = max(0.0, (applied_at - occurred_at).total_seconds())
        stamp = occurred_at.timestamp()
        with self._lock:
            for name in names:
                self._histogram.labels(name).observe(seconds)
                if stamp > self._watermarks.get(name, float("-inf")):
                    self._watermarks[name] = stamp
                    CONNECTION_WATERMARK.labels(name).set(stamp)
