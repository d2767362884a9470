"""The population database's outbox: applied changes, written in the apply transaction.

The outbox relay (`databus run outbox-relay --table npd_outbox`) publishes them to
`population.changes.v1` (every change) and the compacted `population.citizens.v1` (the citizen
after the batch's last change, keyed by PIN).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from databus.outbox import enqueue_many
from databus.topology.topics import Topics
from schemas.models.base import Contract
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange

NPD_OUTBOX = "npd_outbox"


class PopulationOutbox:
    """Writes PopulationChange and Citizen rows to the NPD outbox table."""

    def __init__(self, topics: Topics, table: str = NPD_OUTBOX) -> None:
        self.topics = topics
        self.table = table

    def write(self, conn: Connection, changes: Sequence[PopulationChange]) -> None:
        enqueue_many(conn, self.topics.population_changes, changes, _pin, table=self.table)
        latest: dict[str, Citizen] = {}
        for change in changes:
            latest[change.pin] = change.citizen
        enqueue_many(conn, self.topics.population_citizens, latest.values(), _pin, table=self.table)


def _pin(record: Contract) -> str:
    pin = getattr(record, "pin", None)
    assert isinstance(pin, str)
    return pin
