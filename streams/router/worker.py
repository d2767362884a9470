"""The sector router: population changes in, each sector's lawful projection out.

A faust-streaming app (the `kafka://` driver) consumes `population.changes.v1` in adaptive
batches (`streams.batching`). For
every change and every sector of the topology it computes the release (`projection.py`): the
SectorProjection goes to `sector.<sector>.citizens.v1` keyed by PIN, the DataUsage record to
`bus.data-usage.v1`. A batch's events are acknowledged (and then their offsets committed)
only after every record was delivered (acks=all), so a crash repeats releases, never loses one;
repeated releases carry the same version and usage id, which the sinks and the audit store
deduplicate. Undecodable changes are dead-lettered.

The changes are written only by the bus's own population sync, from citizens validated at the
edge: the router decodes each against its schema but does not run the domain rules again, and
projects it in datum form (`databus.projection_datum`, the same bytes as the model path of
`databus.projection`, at a fraction of the cost). A change the fast path does not take (another
schema version, a version below 1) goes the model path, which validates and dead-letters it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import Producer

from databus.dead_letter import DeadLetterWriter, Failure
from databus.freshness import occurred_at_header
from databus.kafka_config import producer_config
from databus.metrics import DEAD_LETTERS, ROUTER_RELEASES
from databus.producing import flush_patiently, produce_waiting
from databus.projection import releases
from databus.projection_datum import DatumProjector, UntrustedChangeError, same_schema
from databus.registry import registry_client, value_subject
from databus.serde import HEADER_SIZE, DecodeError, Decoder, Encoder
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
        self.fast = DatumProjector(self.sectors)
        self._fast_schema_ids: dict[int, bool] = {}
        """Schema id of a change -> whether it is the schema the fast path was built for."""

    def process(self, records: Sequence[RawRecord]) -> Counter[str]:
        """Release every change of the batch; return when all records are delivered."""
        counts: Counter[str] = Counter()
        now = datetime.now(UTC)
        for record in records:
            change = self._decode(record)
            if change is None:
                counts["dead_letter"] += 1
                continue
            encoded: list[tuple[str, bytes, bytes]]
            if isinstance(change, PopulationChange):  # the model path (the reference)
                pin, occurred_at = change.pin, change.occurred_at
                encoded = [
                    (
                        release.sector,
                        self.projection_encoders[release.sector].encode(release.projection),
                        self.usage_encoder.encode(release.usage),
                    )
                    for release in releases(self.sectors, change, now)
                ]
            else:  # the trusted fast path: the same bytes, from the datum
                pin, occurred_at = change["pin"], change["occurred_at"]
                encoded = [
                    (
                        release.sector,
                        self.projection_encoders[release.sector].frame(release.projection),
                        self.usage_encoder.frame(release.usage),
                    )
                    for release in self.fast.releases(change, now)
                ]
            headers: Headers = [occurred_at_header(occurred_at)]  # the sink's freshness
            for sector, projection, usage in encoded:
                self._produce(self.topics.sector_topic(sector), projection, pin, headers)
                self._produce(self.topics.data_usage, usage, pin)
                ROUTER_RELEASES.labels(sector).inc()
                counts[sector] += 1
        self._flush()
        return counts

    def _decode(self, record: RawRecord) -> PopulationChange | dict[str, Any] | None:
        """The change in `record`: its Avro datum when the fast path takes it (written with the
        schema the fast path was built for, and `DatumProjector.check` holds), else the
        validated model; None when the record was dead-lettered."""

        def decoded(decode: Callable[[bytes | None], Any]) -> Any:
            delay = 0.5
            while True:
                try:
                    return decode(record.value)
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
                    DEAD_LETTERS.labels(
                        self.group, "unknown", "PopulationChange", error.reason
                    ).inc()
                    return None

        datum = decoded(self.decoder.decode_datum)
        if datum is None:
            return None
        assert record.value is not None  # decode_datum refuses an empty value
        schema_id = int.from_bytes(record.value[1:HEADER_SIZE], "big")
        fast = self._fast_schema_ids.get(schema_id)
        if fast is None:  # the decoder has just fetched this schema: answered from the cache
            subject = value_subject(self.topics.population_changes)
            schema_str = self.decoder.client.get_schema(schema_id, subject).schema_str
            fast = schema_str is not None and same_schema(schema_str)
            self._fast_schema_ids[schema_id] = fast
            if not fast:
                log.warning(
                    "schema id %d of %s is not the schema the fast path was built for: "
                    "its changes take the model path",
                    schema_id,
                    self.topics.population_changes,
                )
        if fast:
            try:
                self.fast.check(datum)
                return cast(dict[str, Any], datum)
            except UntrustedChangeError as exc:
                log.info("a change takes the model path (%s)", exc)
        change = decoded(self.decoder.decode)
        if change is None:
            return None
        assert isinstance(change, PopulationChange)
        return change

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
