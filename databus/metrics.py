"""Prometheus metrics of the bus (DESIGN.md §7): `databus_` names, base units, bounded labels.

Label values come from the topology (agency, sector, connection, topic), the contracts
(event_type) or fixed reason codes; never a PIN, a name or free text.
"""

from __future__ import annotations

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
