"""Prometheus metrics of the bus (DESIGN.md §7): `databus_` names, base units, bounded labels.

Label values come from the topology (agency, sector, connection, topic), the contracts
(event_type) or fixed reason codes; never a PIN, a name or free text.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)

EVENTS_PUBLISHED = Counter(
    "databus_events_published_total",
    "Events a publisher got delivery confirmation for (acks=all).",
    ["agency", "event_type"],
)
EVENTS_FAILED = Counter(
    "databus_events_failed_total",
    "Events a publisher did not deliver, by reason (validation, not_granted, delivery, ...).",
    ["agency", "event_type", "reason"],
)
DELIVERY_LATENCY = Histogram(
    "databus_delivery_latency_seconds",
    "Time from handing an event to the publisher to its delivery confirmation.",
    ["agency"],
    buckets=LATENCY_BUCKETS,
)
HEARTBEATS_SENT = Counter(
    "databus_heartbeats_sent_total", "Heartbeats a publisher sent.", ["agency"]
)
OUTBOX_BACKLOG = Gauge("databus_outbox_backlog_rows", "Outbox rows not yet published.", ["outbox"])
OUTBOX_OLDEST_AGE = Gauge(
    "databus_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when the outbox is drained).",
    ["outbox"],
)
OUTBOX_PUBLISHED = Counter(
    "databus_outbox_rows_published_total", "Outbox rows published and marked.", ["outbox"]
)

SYNC_APPLIED = Counter(
    "databus_sync_applied_total",
    "Source events the population sync applied to the population database.",
    ["agency", "event_type"],
)
SYNC_SKIPPED = Counter(
    "databus_sync_skipped_total",
    "Source events recorded without a change: duplicate, late, parked (subject not yet born).",
    ["agency", "event_type", "reason"],
)
SYNC_ISOLATED = Counter(
    "databus_sync_isolated_total",
    "Source events the population sync set aside after an unexpected error while applying them"
    " (dead-lettered apply_failed; the rest of their batch applied).",
    ["agency", "event_type"],
)
DEAD_LETTERS = Counter(
    "databus_dead_letters_total",
    "Records a component dead-lettered, by reason code.",
    ["consumer", "agency", "event_type", "reason"],
)
SYNC_BATCH_SECONDS = Histogram(
    "databus_sync_batch_apply_seconds",
    "Time to apply one batch to the population database, commit included.",
    buckets=LATENCY_BUCKETS,
)
SYNC_FRESHNESS = Histogram(
    "databus_sync_freshness_seconds",
    "applied_at minus occurred_at of applied events: how fresh the golden record is.",
    ["agency"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600, 86400, 604800, 2592000, 31536000),
)

ROUTER_RELEASES = Counter(
    "databus_router_releases_total",
    "Sector projections the router released (each with one data-usage record).",
    ["sector"],
)

SINK_ROWS = Counter(
    "databus_sink_rows_total", "Projection rows a sector sink committed.", ["sector"]
)

VERIFICATIONS = Counter(
    "databus_verifications_total",
    "Verification requests answered for the first time, by overall status (repeats not counted).",
    ["sector", "status"],
)
VERIFICATION_REPEATS = Counter(
    "databus_verification_repeats_total",
    "Requests whose id was already answered: the stored answer was sent again.",
    ["sector"],
)
VERIFICATION_PACED_SECONDS = Counter(
    "databus_verification_paced_seconds_total",
    "Seconds the verifier held a sector's requests back to keep its rate limit.",
    ["sector"],
)

# -- connections and component health (issue 12; the contract is docs/observability.md) -------

FRESHNESS_BASE_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 21600, 86400, 604800)
"""Freshness buckets in seconds; every freshness objective of the topology is added to them."""

CONNECTION_WATERMARK = Gauge(
    "databus_connection_watermark_timestamp_seconds",
    "occurred_at of the newest event applied on the connection (Unix seconds).",
    ["connection"],
)
COMPONENT_READY = Gauge(
    "databus_component_ready",
    "1 when the component is ready (its /readyz answers 200), else 0.",
    ["component"],
)

_freshness: dict[frozenset[float], Histogram] = {}
"""The freshness histogram, by its buckets (one entry once created)."""


def connection_freshness(objectives: Iterable[float]) -> Histogram:
    """`databus_connection_freshness_seconds{connection}`, created on first use with the base
    buckets plus every objective (seconds); `ValueError` if a later caller needs a bucket the
    histogram does not have (one process, one topology)."""
    wanted = {float(seconds) for seconds in objectives}
    if not _freshness:
        buckets = frozenset(wanted.union(FRESHNESS_BASE_BUCKETS))
        _freshness[buckets] = Histogram(
            "databus_connection_freshness_seconds",
            "applied_at minus occurred_at, observed after the commit where the data lands.",
            ["connection"],
            buckets=sorted(buckets),
        )
    ((buckets, histogram),) = _freshness.items()
    missing = wanted.difference(buckets)
    if missing:
        raise ValueError(f"freshness histogram lacks objective buckets {sorted(missing)}")
    return histogram
