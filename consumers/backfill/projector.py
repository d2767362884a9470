"""The CPU-bound half of a backfill batch: population records to sector rows and usage records.

Decoding a citizen's JSON, validating its projection, writing the stored JSON and encoding
its DataUsage record cost some 50 µs per citizen, more than reading and writing the
databases; so batches are projected in worker processes (`init_worker` /
`project_in_worker`) while the main process reads the next rows and writes the previous
batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from consumers.backfill.source import CitizenRow, expected
from consumers.sink.store import Row
from databus.projection import usage_record
from databus.registry import registry_client
from databus.serde import Encoder
from databus.topology.model import Sector

RawCitizen = tuple[str, int, str]
"""A row of the population database: PIN, version, record as JSON text."""


@dataclass(frozen=True)
class ProjectedBatch:
    """A batch's sector rows and the encoded usage record of each (same order)."""

    rows: list[Row]
    usages: list[bytes]


class Projector:
    """Projects batches of citizens for one sector."""

    def __init__(self, name: str, sector: Sector, registry_url: str, usage_topic: str) -> None:
        self.name = name
        self.sector = sector
        self.erase_deceased = sector.on_deceased == "delete"
        self.encoder = Encoder(registry_client(registry_url), usage_topic, "DataUsage")

    def __call__(self, batch: list[RawCitizen]) -> ProjectedBatch:
        now = datetime.now(UTC)
        rows: list[Row] = []
        usages: list[bytes] = []
        for pin, version, text in batch:
            citizen = CitizenRow(pin, version, json.loads(text))
            row, view = expected(self.sector, citizen, erase_deceased=self.erase_deceased)
            rows.append(row)
            usage = usage_record(self.name, self.sector, pin, version, view.fields, None, now)
            usages.append(self.encoder.encode(usage))
        return ProjectedBatch(rows, usages)


_projector: Projector | None = None


def init_worker(name: str, sector: Sector, registry_url: str, usage_topic: str) -> None:
    """Pool initializer: this worker's projector."""
    global _projector  # noqa: PLW0603 - one projector per worker process
    _projector = Projector(name, sector, registry_url, usage_topic)


def project_in_worker(batch: list[RawCitizen]) -> ProjectedBatch:
    """Pool task: project one batch."""
    assert _projector is not None, "init_worker did not run"
    return _projector(batch)
