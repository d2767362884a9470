"""Default consumer-group names of the bus's components, in one place for whoever must know them
(the lag monitor maps connections to groups with these).

The components take `--group` to override them; the monitor takes a group prefix.
"""

from __future__ import annotations

from typing import Final

POPULATION_SYNC: Final = "population-sync"
"""Consumes every source topic and applies it to the population database."""
SECTOR_ROUTER: Final = "sector-router"
"""Consumes population changes and emits each sector's projection."""


def sink_group(sector: str) -> str:
    """The consumer group of a sector's sink, e.g. `sink-tax`."""
    return f"sink-{sector}"
