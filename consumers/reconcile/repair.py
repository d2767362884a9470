"""Repair a sector database's drift: re-emit the expected projections, and write them.

Re-emitting alone would not repair everything: a row changed behind the bus's back usually
keeps its version, and the sink's guard refuses a projection that is not newer than the row
(a raised version refuses even newer ones). So the repair does both, for the PINs the check
found (missing, changed, version ahead):

1. Read those citizens again from the population database (fresh versions), project them
   (`databus.projection.snapshot_release`) and produce each SectorProjection to
   `sector.<sector>.citizens.v1` (key PIN) with its DataUsage record, and wait for delivery:
   the compacted topic, which a rebuilt sink replays, carries the repaired state, and the
   release is on the audit trail before the rows change.
2. In ONE transaction of the sector database, with the rows locked (`FOR UPDATE` where the
   database has it), replace each row unless it now holds a version above the fresh one that
   the check did not see (a newer release the sink applied meanwhile: it is kept); and delete
   the *extra* rows (PINs that are no citizen) that are still no citizen.

Extra rows are deleted directly rather than by a tombstone on the topic: a tombstone (null
value) would reach the sink as an undecodable record and be dead-lettered, and an extra row
never came from the topic (the router only releases citizens), so no replay can bring it
back. The sink's re-emitted copies of the other rows arrive with the version just written and
are no-ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from sqlalchemy import Connection, Engine, delete, insert, select

from consumers.backfill.source import CitizenRow, expected, fetch_citizens
from consumers.reconcile.check import Drift
from consumers.sink.store import Row, create_sector_schema, sector_citizens
from databus.kafka_config import producer_config
from databus.producing import produce_waiting
from databus.projection import snapshot_release
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.topology.model import Sector
from databus.topology.topics import Topics

CHUNK = 1000


class RepairError(RuntimeError):
    """The repair could not be delivered or written (no personal data in the message)."""


@dataclass
class RepairResult:
    """What a repair did (counts only)."""

    re_emitted: int = 0
    written: int = 0
    deleted: int = 0
    kept_newer: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Machine form, for `--json`."""
        return {
            "re_emitted": self.re_emitted,
            "written": self.written,
            "deleted": self.deleted,
            "kept_newer": self.kept_newer,
        }


class Repairer:
    """Repairs one sector database from the population database."""

    def __init__(
        self,
        settings: Settings,
        sector_name: str,
        sector: Sector,
        engine: Engine,
        npd: Engine,
        topics: Topics,
    ) -> None:
        self.name = sector_name
        self.sector = sector
        self.engine = engine
        self.npd = npd
        self.erase_deceased = sector.on_deceased == "delete"
        self.topic = topics.sector_topic(sector_name)
        self.usage_topic = topics.data_usage
        endpoints = settings.endpoints
        registry = registry_client(endpoints.registry_url)
        self.projections = Encoder(registry, self.topic, "SectorProjection")
        self.usages = Encoder(registry, self.usage_topic, "DataUsage")
        self.producer = Producer(
            producer_config(endpoints.bootstrap_servers, f"reconcile-{sector_name}")
        )
        self._errors: list[KafkaError] = []

    def repair(self, drift: Drift) -> RepairResult:
        """Re-emit and write the expected rows of the drifted PINs; delete the extra ones."""
        result = RepairResult()
        rewrite = sorted({*drift.missing, *drift.changed, *drift.ahead})
        with self.npd.connect() as conn:
            citizens = fetch_citizens(conn, rewrite)
            still_extra = set(drift.extra) - set(fetch_citizens(conn, sorted(drift.extra)))
        rows = self._re_emit([citizens[p] for p in rewrite if p in citizens], result)
        create_sector_schema(self.engine)
        with self.engine.begin() as conn:
            self._write(conn, rows, drift.ahead, result)
            self._delete(conn, sorted(still_extra), result)
        return result

    def _re_emit(self, citizens: Sequence[CitizenRow], result: RepairResult) -> list[Row]:
        now = datetime.now(UTC)
        rows: list[Row] = []
        for citizen in citizens:
            row, view = expected(self.sector, citizen, erase_deceased=self.erase_deceased)
            rows.append(row)
            release = snapshot_release(
                self.name, self.sector, citizen.pin, citizen.version, view, now
            )
            self._produce(self.topic, self.projections.encode(release.projection), citizen.pin)
            self._produce(self.usage_topic, self.usages.encode(release.usage), citizen.pin)
            result.re_emitted += 1
        while self.producer.flush(10) > 0:
            pass
        if self._errors:
            raise RepairError(f"re-emitted projections not delivered: {self._errors[0]}")
        return rows

    def _write(
        self, conn: Connection, rows: list[Row], ahead: dict[str, int], result: RepairResult
    ) -> None:
        table = sector_citizens
        now = datetime.now(UTC)
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            current = {
                r.pin: int(r.version)
                for r in conn.execute(
                    select(table.c.pin, table.c.version)
                    .where(table.c.pin.in_([r.pin for r in chunk]))
                    .with_for_update()
                )
            }
            replace: list[Row] = []
            for row in chunk:
                held = current.get(row.pin)
                if held is None or held <= row.version or ahead.get(row.pin) == held:
                    replace.append(row)
                else:
                    result.kept_newer += 1
            if not replace:
                continue
            conn.execute(delete(table).where(table.c.pin.in_([r.pin for r in replace])))
            conn.execute(
                insert(table),
                [
                    {
                        "pin": r.pin,
                        "version": r.version,
                        "deceased": r.deceased,
                        "record": r.record,
                        "updated_at": now,
                    }
                    for r in replace
                ],
            )
            result.written += len(replace)

    def _delete(self, conn: Connection, pins: list[str], result: RepairResult) -> None:
        table = sector_citizens
        for start in range(0, len(pins), CHUNK):
            chunk = pins[start : start + CHUNK]
            outcome = conn.execute(delete(table).where(table.c.pin.in_(chunk)))
            result.deleted += max(outcome.rowcount, 0)

    def _produce(self, topic: str, value: bytes, key: str) -> None:
        produce_waiting(self.producer, topic, value, key, on_delivery=self._delivered)

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._errors.append(error)
