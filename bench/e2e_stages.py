"""bench/e2e's stages: when each event reached each hop of the path, and a per-second timeline.

Each hop's own time stamp, as a delay from the event's publish call:
- the population sync's batch start (`applied_events.applied_at`);
- the outbox relay's send and the router's send (the time stamp of the PIN's first record on
  `population.changes.v1` and on the sector's topic);
- the sink's batch time (`sector_citizens.updated_at`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import psycopg

from bench.stack import psycopg_dsn
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.topics import Topics

APPLIED = "population applied (batch start)"
RELAYED = "population change sent (relay)"
ROUTED = "sector record sent (router)"
WRITTEN = "sector row written (batch time)"


def percentile(sorted_values: list[float], q: float) -> float:
    """The `q` quantile (nearest rank) of values sorted ascending; NaN when there are none."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def delays_ms(
    published: dict[str, float], stamps: dict[str, float], offset: float = 0.0
) -> dict[str, float]:
    """PIN -> ms from its publish call (monotonic, + `offset` to the stamps' clock) to its
    stamp, for the PINs that have one."""
    return {
        pin: (stamps[pin] - (at + offset)) * 1000 for pin, at in published.items() if pin in stamps
    }


def stage_delays(
    settings: Settings, sector: str, npd_url: str, sector_url: str, published: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Stage -> PIN -> ms from the publish call to the stage's own stamp, in path order (read
    while the run's topics and databases still exist)."""
    offset = time.time() - time.monotonic()  # monotonic -> wall clock, this process
    topics = Topics.from_settings(settings)
    bootstrap = settings.endpoints.bootstrap_servers
    stamps = {
        APPLIED: _row_stamps(npd_url, "SELECT pin, applied_at FROM applied_events"),
        RELAYED: _record_stamps(bootstrap, topics.population_changes),
        ROUTED: _record_stamps(bootstrap, topics.sector_topic(sector)),
        WRITTEN: _row_stamps(sector_url, "SELECT pin, updated_at FROM sector_citizens"),
    }
    return {name: delays_ms(published, found, offset) for name, found in stamps.items()}


def _row_stamps(url: str, query: str) -> dict[str, float]:
    """PIN -> wall-clock seconds, from a (pin, timestamp) query."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        return {pin: at.timestamp() for pin, at in conn.execute(query)}


def _record_stamps(bootstrap: str, topic: str) -> dict[str, float]:
    """PIN (the record key) -> wall-clock seconds of its first record on `topic`."""
    first: dict[str, float] = {}
    for message in read_all(bootstrap, topic):
        key = message.key()
        pin = key.decode() if isinstance(key, bytes) else str(key)
        first.setdefault(pin, message.timestamp()[1] / 1000)
    return first


def timeline(
    published: dict[str, float], seen: dict[str, float], stage_delays: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    """Per second of publishing: how many events were published, and the p50 and maximum ms
    to the sector row and to each stage (where a stall struck, and in which stage)."""
    first = min(published.values(), default=0.0)
    seconds: dict[int, list[str]] = defaultdict(list)
    for pin, at in published.items():
        seconds[int(at - first)].append(pin)
    delays = {"sector row committed": delays_ms(published, seen), **stage_delays}
    rows = []
    for second in sorted(seconds):
        row: dict[str, Any] = {"second": second, "published": len(seconds[second])}
        for name, found in delays.items():
            values = sorted(found[p] for p in seconds[second] if p in found)
            if values:
                row[name] = {"p50": round(percentile(values, 0.5), 1), "max": round(values[-1], 1)}
        rows.append(row)
    return rows
