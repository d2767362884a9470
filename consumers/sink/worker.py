"""A sector sink: `sector.<sector>.citizens.v1` into that sector's database.

A confluent-kafka consumer reads batches; each batch is decoded (poison records are
dead-lettered), upserted in bulk in ONE transaction with the version guard, committed, and only
then are the offsets committed. A database that is down is retried with backoff while the
consumer keeps its partitions (paused, still polling), so nothing is skipped or dead-lettered
because of it; the sink catches up when the database is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError, OperationalError

from consumers.sink.store import Row, create_sector_schema, to_row, upsert
from databus.dead_letter import DeadLetterWriter, Failure
from databus.kafka_config import consumer_config, producer_config
from databus.metrics import DEAD_LETTERS, SINK_ROWS
from databus.registry import registry_client
from databus.serde import DecodeError, Decoder, Encoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.models.downstream import SectorProjection

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0


@dataclass
class SinkStats:
    """What a sink did so far."""

    batches: int = 0
    rows: int = 0
    dead_letters: int = 0


class SectorSink:
    """Keeps one sector's database equal to its projection topic."""

    def __init__(
        self,
        settings: Settings,
        sector: str,
        database_url: str,
        *,
        group: str | None = None,
        batch_size: int = 2000,
    ) -> None:
        topology = load_topology(settings.topology)
        self.sector = sector
        self.erase_deceased = topology.sector(sector).on_deceased == "delete"
        topics = Topics.from_settings(settings, topology)
        self.topic = topics.sector_topic(sector)
        self.group = group or f"sink-{sector}"
        self.batch_size = batch_size
        self.engine = create_engine(database_url, pool_pre_ping=True)
        create_sector_schema(self.engine)
        endpoints = settings.endpoints
        registry = registry_client(endpoints.registry_url)
        self.decoder = Decoder(registry, self.topic, SectorProjection)
        self.consumer = Consumer(consumer_config(endpoints.bootstrap_servers, self.group))
        self.producer = Producer(producer_config(endpoints.bootstrap_servers, self.group))
        self.dead_letters = DeadLetterWriter(
            self.producer, Encoder(registry, topics.dead_letter, "DeadLetter"), self.group
        )
        self.stats = SinkStats()

    def run(self, should_stop: Callable[[], bool]) -> SinkStats:
        """Consume until `should_stop()`; every batch is durable before its offsets move."""
        self.consumer.subscribe([self.topic])
        try:
            while not should_stop():
                messages = self.consumer.consume(self.batch_size, 0.5)
                records = [m for m in messages if not _skippable(m)]
                if records:
                    self._process(records)
        finally:
            self.consumer.close()
            self.producer.flush(10)
        return self.stats

    def _process(self, messages: list[Message]) -> None:
        rows: list[Row] = []
        for message in messages:
            try:
                projection = self.decoder.decode(
                    message.value(), record=f"offset {message.offset()}"
                )
            except DecodeError as error:
                self.dead_letters.send(message, Failure(error.reason, error.message, "DecodeError"))
                DEAD_LETTERS.labels(self.group, "unknown", "SectorProjection", error.reason).inc()
                self.stats.dead_letters += 1
                continue
            assert isinstance(projection, SectorProjection)
            rows.append(
                to_row(
                    projection.pin,
                    projection.version,
                    projection.deceased,
                    projection.citizen.model_dump(mode="json"),
                    erase_deceased=self.erase_deceased,
                )
            )
        written = self._write(rows) if rows else 0
        while self.producer.flush(10) > 0:  # dead letters delivered before offsets move
            time.sleep(0.5)
        self.consumer.commit(offsets=_next_offsets(messages), asynchronous=False)
        self.stats.batches += 1
        self.stats.rows += written
        SINK_ROWS.labels(self.sector).inc(written)

    def _write(self, rows: list[Row]) -> int:
        delay = 0.5
        paused: list[TopicPartition] = []
        try:
            while True:
                try:
                    with self.engine.begin() as conn:
                        return upsert(conn, rows)
                except (OperationalError, DBAPIError) as error:
                    if not (error.connection_invalidated or isinstance(error, OperationalError)):
                        raise
                    if not paused:
                        paused = self.consumer.assignment()
                        self.consumer.pause(paused)
                    log.warning(
                        "sector database of %s unavailable; retrying in %.1f s", self.sector, delay
                    )
                    deadline = time.monotonic() + delay
                    while time.monotonic() < deadline:
                        # Keep the group membership while fetches are paused; a record that
                        # still arrives is put back (seek) so it is read again after resume.
                        early = self.consumer.poll(0.2)
                        if early is not None and early.error() is None:
                            self.consumer.seek(
                                TopicPartition(
                                    early.topic() or "", early.partition() or 0, early.offset() or 0
                                )
                            )
                    delay = min(delay * 2, MAX_BACKOFF / 6)
        finally:
            if paused:
                self.consumer.resume(paused)


def _skippable(message: Message) -> bool:
    error = message.error()
    if error is None:
        return False
    if error.code() == KafkaError._PARTITION_EOF:
        return True
    raise RuntimeError(f"consumer error: {error}")


def _next_offsets(messages: list[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic() or "", message.partition() or 0)
        last[key] = max(last.get(key, -1), message.offset() or 0)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
