"""A sector sink: `sector.<sector>.citizens.v1` into that sector's database.

The batch loop (decode, one transaction per batch, dead letters, offsets after commit, paused
retries while the database is down) is `consumers.batch.BatchConsumer`; this class only says
how a projection becomes a row and how rows are upserted (`store.upsert`, version-guarded).

A sector topic carries only what the bus built from validated citizens, so by default a
record's body is read straight into its row (`transcode.py`: the Avro structure is checked,
the domain rules are not run again); `validate=True` decodes and validates every record's
model first, for a topic that something other than the bus may write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from confluent_kafka import Message
from sqlalchemy import Connection, create_engine

from consumers.batch import BatchConsumer
from consumers.sink.store import Inserts, Row, create_sector_schema, projection_row, upsert
from consumers.sink.transcode import compile_row_reader
from databus.freshness import ConnectionFreshness, occurred_at_of
from databus.metrics import SINK_ROWS
from databus.serde import Decoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.models.base import Contract
from schemas.models.downstream import SectorProjection


class SectorSink(BatchConsumer[Row]):
    """Keeps one sector's database equal to its projection topic."""

    record_type = SectorProjection

    def __init__(
        self,
        settings: Settings,
        sector: str,
        database_url: str,
        *,
        group: str | None = None,
        batch_size: int = 5000,
        instance_id: str | None = None,
        max_wait: float = 0.5,
        validate: bool = False,
    ) -> None:
        topology = load_topology(settings.topology)
        self.sector = sector
        self.erase_deceased = topology.sector(sector).on_deceased == "delete"
        self.freshness = ConnectionFreshness.for_sector(topology, sector)
        engine = create_engine(database_url, pool_pre_ping=True)
        create_sector_schema(engine)
        topic = Topics.from_settings(settings, topology).sector_topic(sector)
        super().__init__(
            settings,
            topic,
            engine,
            group or f"sink-{sector}",
            batch_size=batch_size,
            instance_id=instance_id,
            max_wait=max_wait,
        )
        self.validate = validate
        self.inserts = Inserts()  # only the writer thread reads and sets it
        self.row_decoder = Decoder(
            self.decoder.client,  # one registry client (and schema cache) for both
            topic,
            SectorProjection,
            reader_factory=lambda schema: compile_row_reader(schema, "citizen"),
        )

    def decode_item(self, value: bytes | None, *, record: str) -> Row:
        """The row of a projection's value: read straight from the Avro body, or (validating,
        or the first record of a schema id, read by the registry's deserializer) through the
        validated model."""
        if self.validate:
            return super().decode_item(value, record=record)
        datum = self.row_decoder.decode_datum(value)
        citizen = datum["citizen"]
        if not isinstance(citizen, str):
            return self.to_item(self.row_decoder.validate(datum, record=record))
        if datum["deceased"] and self.erase_deceased:
            return Row(datum["pin"], datum["version"], True, None)
        return Row(datum["pin"], datum["version"], datum["deceased"], citizen)

    def to_item(self, record: Contract) -> Row:
        assert isinstance(record, SectorProjection)
        return projection_row(
            record.pin,
            record.version,
            record.deceased,
            record.citizen,
            erase_deceased=self.erase_deceased,
        )

    def write(self, conn: Connection, items: Sequence[Row]) -> int:
        written = upsert(conn, items, self.inserts)
        SINK_ROWS.labels(self.sector).inc(written)
        return written

    def committed(self, messages: Sequence[Message], applied_at: datetime) -> None:
        """Freshness of the sector's connection: applied_at minus the originating change's
        occurred_at (the router's `occurred_at_ms` header; snapshots carry none)."""
        for message in messages:
            occurred_at = occurred_at_of(message.headers())
            if occurred_at is not None:
                self.freshness.observe(self.sector, occurred_at, applied_at)
