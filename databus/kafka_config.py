"""Client configurations every producer and consumer of the bus starts from."""

from __future__ import annotations

from typing import Any

from databus.security.client import secured

PRODUCER_DEFAULTS: dict[str, Any] = {
    # Exactly-once per partition on the broker side: no duplicates from retries, order kept.
    "enable.idempotence": True,
    "acks": "all",
    "max.in.flight.requests.per.connection": 5,
    # Keep retrying through broker outages; delivery.timeout.ms bounds how long a record waits.
    "retries": 2_147_483_647,
    "delivery.timeout.ms": 300_000,
    "compression.type": "lz4",
    "linger.ms": 5,
    "batch.size": 512 * 1024,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 200_000,
    "queue.buffering.max.kbytes": 512 * 1024,
    # Same partition for the same key as Java clients (murmur2), so tools agree with us.
    "partitioner": "murmur2_random",
}


def producer_config(bootstrap: str, client_id: str, **overrides: Any) -> dict[str, Any]:
    """An idempotent, acks=all, lz4 producer configuration (overridable), with this process's
    Kafka identity (`databus.security.client`)."""
    return secured(
        {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            **PRODUCER_DEFAULTS,
            **overrides,
        }
    )


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """A consumer that commits offsets only when told to (after its own durable work), with this
    process's Kafka identity."""
    return secured(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "cooperative-sticky",
            **overrides,
        }
    )
