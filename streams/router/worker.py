"""The sector router: population changes in, each sector's lawful projection out.

A faust-streaming app (the `kafka://` driver) consumes `population.changes.v1` in adaptive
batches (`streams.batching`). For
every change and every sector of the topology it computes the release (`projection.py`): the
SectorProjection goes to `sector.<sector>.citizens.v1` keyed by PIN, the DataUsage record to
`bus.data-usage.v1`. A batch's events are acknowledged (and then their offsets committed)
only after every record was delivered (acks=all), so a crash repeats releases, never loses one;
repeated releases carry the same version and usage id, which the sinks and the audit store
deduplicate. Undecodable changes are dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer

from databus.dead_letter import DeadLetterWriter, Failure
from databus.freshness import occurred_at_header
from databus.kafka_config import producer_config
from databus.metrics import DEAD_LETTERS, ROUTER_RELEASES
from databus.producing import flush_patiently, produce_waiting
from databus.projection import releases
from databus.registry import registry_client
from databus.serde import DecodeError, Decoder, Encoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.models.downstream import PopulationChange
from streams.batching import ack_events, adaptive_batches
from streams.faust_app import raw_faust_app
from streams.population.worker import FATAL_EXIT, MAX_BACKOFF, RawRecord, raw_records

log = logging.getLogger(__name__)
CONSUMER = "sector-router"
Headers = list[tuple[str, str | bytes | None]] | None


class SectorRouter:
    """Decode population changes, release them to the sectors, record the usage."""

    def __init__(self, settings: Settings, *, group: str = CONSUMER) -> None:
        self.settings = settings
        self.group = group
        self.topology = load_topology(settings.topology)
        self.topics = Topics.from_settings(settings, self.topology)
        self.sectors = dict(self.topology.sectors)
        endpoints = settings.endpoints
        registry = registry_client(endpoints.registry_url)
        self.decoder = Decoder(registry, self.topics.population_changes, PopulationChange)
        self.projection_encoders = {
            name: Encoder(registry, self.topics.sector_topic(name), "SectorProjection")
            for name in self.sectors
        }
        self.usage_encoder = Encoder(registry, self.topics.data_usage, "DataUsage")
        self.producer = Producer(producer_config(endpoints.bootstrap_servers, group))
        self.dead_letters = DeadLetterWriter(
            self.producer, Encoder(registry, self.topics.dead_letter, "DeadLetter"), group
        )

    def process(self, records: Sequence[RawRecord]) -> Counter[str]:
        """Release every change of the batch; return when all records are delivered."""
        counts: Counter[str] = Counter()
        now = datetime.now(UTC)
        for record in records:
            change = self._decode(record)
            if change is None:
                counts["dead_letter"] += 1
                continue
            for release in releases(self.sectors, change, now):
                self._produce(
                    self.topics.sector_topic(release.sector),
                    self.projection_encoders[release.sector].encode(release.projection),
                    change.pin,
                    [occurred_at_header(change.occurred_at)],  # the sink's freshness
                )
                self._produce(
                    self.topics.data_usage, self.usage_encoder.encode(release.usage), change.pin
                )
                ROUTER_RELEASES.labels(release.sector).inc()
                counts[release.sector] += 1
        self._flush()
        return counts

    def _decode(self, record: RawRecord) -> PopulationChange | None:
        delay = 0.5
        while True:
            try:
                change = self.decoder.decode(record.value)
                assert isinstance(change, PopulationChange)
                return change
            except DecodeError as error:
                if error.retryable:
                    time.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
                self.dead_letters.send_raw(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value,
                    failure=Failure(error.reason, error.message, "DecodeError"),
                    headers=record.headers,
                )
                DEAD_LETTERS.labels(self.group, "unknown", "PopulationChange", error.reason).inc()
                return None

    def _produce(
        self,
        topic: str,
        value: bytes,
        key: str,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        produce_waiting(self.producer, topic, value, key, headers=headers)

    def _flush(self) -> None:
        flush_patiently(self.producer, "releases", max_backoff=MAX_BACKOFF)

    def build_app(self, *, batch_size: int = 500, linger: float = 0.0) -> Any:
        """The faust app: one agent over `population.changes.v1`, in adaptive batches
        (`streams.batching`), each acknowledged after all its records were delivered."""
        app = raw_faust_app(
            self.group, self.settings.endpoints.bootstrap_servers, batch_size=batch_size
        )
        channel = app.topic(
            self.topics.population_changes, value_serializer="raw", key_serializer="raw"
        )

        @app.agent(channel, name="sector-router")
        async def route(stream: Any) -> None:
            loop = asyncio.get_running_loop()
            async for events in adaptive_batches(stream, batch_size, linger):
                records = raw_records(events)
                try:
                    await loop.run_in_executor(None, self.process, records)
                except BaseException:
                    log.exception(
                        "sector router failed on a batch; exiting before its "
                        "offsets are acknowledged"
                    )
                    os._exit(FATAL_EXIT)
                await ack_events(stream, events)

        return app
