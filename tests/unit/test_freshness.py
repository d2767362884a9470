"""Connection freshness: connections from the topology, buckets at every objective, the
`occurred_at_ms` header, the watermark never going back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import REGISTRY

from databus.freshness import (
    OCCURRED_AT_HEADER,
    ConnectionFreshness,
    freshness_objectives,
    occurred_at_header,
    occurred_at_of,
)
from databus.observability.rules import bucket_label
from databus.topology import Topics, load_topology

TOPOLOGY = load_topology(Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml")
T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_header_carries_occurred_at_to_the_millisecond() -> None:
    key, value = occurred_at_header(T0)
    assert key == OCCURRED_AT_HEADER and value == b"1767323045678"
    assert occurred_at_of([(key, value)]) == T0
    assert occurred_at_of({key: value}) == T0
    assert occurred_at_of([("event_id", b"x")]) is None
    assert occurred_at_of(None) is None
    assert occurred_at_of([(key, b"not a number")]) is None


def test_population_events_map_to_their_source_connection() -> None:
    topics = Topics(TOPOLOGY, environment="local", topic_prefix="p.")
    freshness = ConnectionFreshness.for_population(TOPOLOGY, topics)
    assert freshness.connections("p.civilstatus.events.v1") == ("civil-status-to-population",)
    assert freshness.connections("p.reference.events.v1") == ("reference-to-population",)
    assert freshness.connections("civilstatus.events.v1") == ()  # another prefix: not ours


def test_sector_sinks_map_to_their_connection() -> None:
    for sector in TOPOLOGY.sectors:
        assert ConnectionFreshness.for_sector(TOPOLOGY, sector).connections(sector) == (
            f"population-to-{sector}",
        )


def test_buckets_include_every_objective_and_observations_land_after_commit() -> None:
    freshness = ConnectionFreshness.for_sector(TOPOLOGY, "tax")
    name = "databus_connection_freshness_seconds"
    for seconds in freshness_objectives(TOPOLOGY):
        labels = {"connection": "population-to-tax", "le": bucket_label(seconds)}
        assert REGISTRY.get_sample_value(f"{name}_bucket", labels) is not None, seconds
    before = _value(f"{name}_count", connection="population-to-tax")
    within = _value(f"{name}_bucket", connection="population-to-tax", le="300.0")
    freshness.observe("tax", T0, T0 + timedelta(seconds=42))
    freshness.observe("tax", T0 - timedelta(hours=1), T0 + timedelta(seconds=1))  # late
    freshness.observe("health", T0, T0)  # not this sink's key: ignored
    assert _value(f"{name}_count", connection="population-to-tax") == before + 2
    assert _value(f"{name}_bucket", connection="population-to-tax", le="300.0") == within + 1
    watermark = "databus_connection_watermark_timestamp_seconds"
    assert _value(watermark, connection="population-to-tax") == T0.timestamp()  # never back
