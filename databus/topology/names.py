"""The bus's own topic names (DESIGN.md §5), unprefixed: what the topology may not claim.

Pure constants and name builders, imported by the loader (to refuse reserved names) and by
`Topics` (to derive every topic), so neither needs the other.
"""

from __future__ import annotations

from typing import Final

POPULATION_CHANGES: Final = "population.changes.v1"
POPULATION_CITIZENS: Final = "population.citizens.v1"
DEAD_LETTER: Final = "bus.dead-letter.v1"
DATA_USAGE: Final = "bus.data-usage.v1"
HEARTBEATS: Final = "bus.heartbeats.v1"
CONNECTION_STATUS: Final = "bus.connection-status.v1"
SECTOR_TOPIC_PREFIX: Final = "sector."

RESERVED_TOPICS: Final[frozenset[str]] = frozenset(
    {
        POPULATION_CHANGES,
        POPULATION_CITIZENS,
        DEAD_LETTER,
        DATA_USAGE,
        HEARTBEATS,
        CONNECTION_STATUS,
    }
)
"""Topic names the bus itself uses; no source may publish to them."""


def sector_citizens_topic(sector: str) -> str:
    """Unprefixed name of a sector's compacted projection topic."""
    return f"{SECTOR_TOPIC_PREFIX}{sector}.citizens.v1"


def verification_requests_topic(sector: str) -> str:
    """Unprefixed name of the topic where a sector sends verification claims."""
    return f"{SECTOR_TOPIC_PREFIX}{sector}.verification-requests.v1"


def verification_results_topic(sector: str) -> str:
    """Unprefixed name of the topic where a sector gets verification results."""
    return f"{SECTOR_TOPIC_PREFIX}{sector}.verification-results.v1"
