"""The verifier: sectors' verification requests in, per-field verdicts out, never a value.

A faust-streaming app (the `kafka://` driver) with one agent per sector that may verify, over
`sector.<sector>.verification-requests.v1`. For each batch of a sector (`Verifier.process`, in an
executor thread):

1. decode every request; an undecodable one goes to the dead-letter topic with its reason;
2. in one transaction: read the answers already given to these request ids, check the new
   requests' claims (`claims.py`), look their PINs up in the population database with ONE query
   (`databus.population.lookup`), decide (`decide.py`) and store the new answers (`answers.py`);
3. produce every result to `sector.<sector>.verification-results.v1` (a repeated id gets the
   stored bytes again) and the data-usage record of every verification that consulted a
   citizen to `bus.data-usage.v1`, and wait for delivery;
4. acknowledge the batch's events (offsets committed after that).

A crash repeats at most the batches not yet acknowledged; they are answered from the stored
answers, byte for byte. A sector's `verification.rate_per_second` paces its agent only
(`pacing.py`). No single request stops the verifier: one that fails unexpectedly is
dead-lettered (`verify_failed`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError, OperationalError

from databus.dead_letter import DeadLetterWriter, Failure
from databus.failures import failure_trace
from databus.kafka_config import producer_config
from databus.metrics import (
    DEAD_LETTERS,
    VERIFICATION_PACED_SECONDS,
    VERIFICATION_REPEATS,
    VERIFICATIONS,
)
from databus.population.lookup import lookup_subjects
from databus.population.schema import create_population_schema
from databus.producing import flush_patiently, produce_waiting
from databus.registry import registry_client
from databus.serde import DecodeError, Decoder, Encoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.model import Sector
from databus.topology.topics import Topics
from schemas.models.downstream import VerificationRequest, VerificationResult
from streams.batching import ack_events, adaptive_batches
from streams.faust_app import raw_faust_app
from streams.population.worker import FATAL_EXIT, MAX_BACKOFF, RawRecord, raw_records
from streams.verification.answers import (
    StoredAnswer,
    create_answers_schema,
    known_answers,
    store_answers,
)
from streams.verification.claims import check_claims
from streams.verification.decide import answer, looks_up
from streams.verification.pacing import TokenBucket
from streams.verification.usage import verification_usage

log = logging.getLogger(__name__)
CONSUMER = "verifier"
REQUEST = "VerificationRequest"


@dataclass(frozen=True, slots=True)
class _Request:
    record: RawRecord
    request: VerificationRequest


@dataclass
class BatchReport:
    """What one batch did: new answers by status, repeats, dead letters by reason."""

    statuses: Counter[str] = field(default_factory=Counter)
    repeats: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)


class _SectorLane:
    """Decoder, encoders and limits of one sector (used by its agent's thread only)."""

    def __init__(self, name: str, sector: Sector, topics: Topics, registry: Any) -> None:
        self.name = name
        self.sector = sector
        self.requests_topic = topics.verification_requests_topic(name)
        self.results_topic = topics.verification_results_topic(name)
        self.decoder = Decoder(registry, self.requests_topic, VerificationRequest)
        self.result_encoder = Encoder(registry, self.results_topic, "VerificationResult")
        self.usage_encoder = Encoder(registry, topics.data_usage, "DataUsage")
        rate = sector.verification.rate_per_second
        self.bucket = TokenBucket(rate) if rate else None


class Verifier:
    """Everything the faust agents do with a batch of one sector's requests."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        group: str = CONSUMER,
        sectors: Sequence[str] | None = None,
    ) -> None:
        self.settings = settings
        self.group = group
        self.topology = load_topology(settings.topology)
        self.topics = Topics.from_settings(settings, self.topology)
        self.engine = create_engine(database_url, pool_pre_ping=True, pool_size=8)
        create_population_schema(self.engine)
        create_answers_schema(self.engine)
        endpoints = settings.endpoints
        registry = registry_client(endpoints.registry_url)
        names = sectors or [
            name for name, sector in self.topology.sectors.items() if sector.verification.enabled
        ]
        self.lanes = {
            name: _SectorLane(name, self.topology.sector(name), self.topics, registry)
            for name in names
        }
        self.producer = Producer(producer_config(endpoints.bootstrap_servers, group))
        self.dead_letters = DeadLetterWriter(
            self.producer, Encoder(registry, self.topics.dead_letter, "DeadLetter"), group
        )

    # ------------------------------------------------------------------ one batch

    def process(self, sector: str, records: Sequence[RawRecord]) -> BatchReport:
        """Answer one batch of `sector`'s requests; return when every result is delivered.

        Every decoded request gets a result, a repeated id the bytes of its first answer."""
        lane = self.lanes[sector]
        report = BatchReport()
        started = time.perf_counter()
        decoded: list[_Request] = []
        for record in records:
            request = self._decode(lane, record, report)
            if request is not None:
                decoded.append(_Request(record, request))
        if decoded:
            self._answer(lane, decoded, report)
        answered = time.perf_counter()
        self._flush()
        log.debug(
            "%s: %d requests answered in %.3f s, delivered in %.3f s",
            sector,
            len(records),
            answered - started,
            time.perf_counter() - answered,
        )
        if report.repeats:
            VERIFICATION_REPEATS.labels(sector).inc(report.repeats)
        for status, count in report.statuses.items():
            VERIFICATIONS.labels(sector, status).inc(count)
        return report

    def _answer(self, lane: _SectorLane, decoded: list[_Request], report: BatchReport) -> None:
        unique: dict[str, _Request] = {}
        for item in decoded:
            unique.setdefault(str(item.request.request_id), item)
        delay = 0.5
        while True:
            try:
                with self.engine.begin() as conn:
                    known = known_answers(conn, lane.name, list(unique))
                    fresh = [r for i, r in unique.items() if i not in known]
                    stored = self._decide(conn, lane, fresh, report)
                    store_answers(conn, lane.name, stored)
                break
            except (OperationalError, DBAPIError) as error:
                if not _transient(error):
                    raise
                log.warning("population database unavailable; retrying in %.1f s", delay)
                report.statuses.clear()
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        answers = dict(known)
        answers.update({a.request_id: (a.result, a.usage) for a in stored})
        report.repeats += len(decoded) - len(fresh)
        for item in decoded:
            given = answers.get(str(item.request.request_id))
            if given is None:  # dead-lettered while answering
                continue
            result, usage = given
            self._produce(lane.results_topic, result, item.request.pin)
            if usage is not None:
                self._produce(self.topics.data_usage, usage, item.request.pin.strip())

    def _decide(
        self, conn: Any, lane: _SectorLane, fresh: list[_Request], report: BatchReport
    ) -> list[StoredAnswer]:
        now = datetime.now(UTC)
        checked = []
        for item in fresh:
            try:
                checked.append((item, check_claims(item.request, lane.name, lane.sector)))
            except Exception as exc:  # no single request may stop the verifier
                self._failed(lane, item.record, exc, report)
        pins = {item.request.pin.strip() for item, claims in checked if looks_up(claims)}
        subjects = lookup_subjects(conn, pins)
        stored: list[StoredAnswer] = []
        for item, claims in checked:
            try:
                subject = subjects.get(item.request.pin.strip()) if looks_up(claims) else None
                result: VerificationResult = answer(item.request, lane.name, claims, subject, now)
                usage = (
                    verification_usage(lane.name, lane.sector, result, subject, now)
                    if subject is not None
                    else None
                )
                stored.append(
                    StoredAnswer(
                        str(result.request_id),
                        lane.result_encoder.encode(result),
                        lane.usage_encoder.encode(usage) if usage is not None else None,
                        now,
                    )
                )
                report.statuses[result.status.value] += 1
            except Exception as exc:  # no single request may stop the verifier
                self._failed(lane, item.record, exc, report)
        return stored

    def _decode(
        self, lane: _SectorLane, record: RawRecord, report: BatchReport
    ) -> VerificationRequest | None:
        delay = 0.5
        while True:
            try:
                request = lane.decoder.decode(
                    record.value, record=f"{record.topic}/{record.partition}/{record.offset}"
                )
                assert isinstance(request, VerificationRequest)
                return request
            except DecodeError as error:
                if error.retryable:
                    log.warning(
                        "registry unavailable (%s); retrying in %.1f s", error.reason, delay
                    )
                    time.sleep(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
                self._dead_letter(
                    lane, record, Failure(error.reason, error.message, "DecodeError"), report
                )
                return None

    def _failed(
        self, lane: _SectorLane, record: RawRecord, exc: Exception, report: BatchReport
    ) -> None:
        log.warning(
            "request %s/%s/%s could not be answered (%s); dead-lettered",
            record.topic,
            record.partition,
            record.offset,
            type(exc).__name__,
        )
        failure = Failure(
            "verify_failed", f"answering failed with {type(exc).__name__}", type(exc).__name__
        )
        self._dead_letter(lane, record, failure, report)

    def _dead_letter(
        self, lane: _SectorLane, record: RawRecord, failure: Failure, report: BatchReport
    ) -> None:
        self.dead_letters.send_raw(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            failure=failure,
            headers=record.headers,
        )
        report.dead_letters[failure.reason] += 1
        DEAD_LETTERS.labels(self.group, lane.sector.agency, REQUEST, failure.reason).inc()

    def _produce(self, topic: str, value: bytes, key: str) -> None:
        produce_waiting(self.producer, topic, value, key)

    def _flush(self) -> None:
        flush_patiently(self.producer, "results", max_backoff=MAX_BACKOFF)

    # ------------------------------------------------------------------ faust

    def build_app(self, *, batch_size: int = 1000, linger: float = 0.0) -> Any:
        """The faust app: one agent per sector's request topic, consumer group = `group`, in
        adaptive batches (`streams.batching`)."""
        app = raw_faust_app(
            self.group,
            self.settings.endpoints.bootstrap_servers,
            batch_size=batch_size,
            # a killed verifier's partitions move to a restarted or standby one in ~10 s,
            # not after the 60 s default
            broker_session_timeout=10.0,
            broker_heartbeat_interval=3.0,
        )
        for name, lane in self.lanes.items():
            self._agent(app, name, lane, batch_size, linger)
        return app

    def _agent(
        self, app: Any, name: str, lane: _SectorLane, batch_size: int, linger: float
    ) -> None:
        channel = app.topic(lane.requests_topic, value_serializer="raw", key_serializer="raw")
        paced = VERIFICATION_PACED_SECONDS.labels(name)

        async def verify(stream: Any) -> None:
            loop = asyncio.get_running_loop()
            async for events in adaptive_batches(stream, batch_size, linger):
                if lane.bucket is not None:
                    waited = await lane.bucket.acquire(len(events))
                    if waited:
                        paced.inc(waited)
                records = raw_records(events)
                try:
                    await loop.run_in_executor(None, self.process, name, records)
                except BaseException as error:  # the trace without its message
                    log.critical(
                        "verifier failed on a batch of %s (%s); exiting before its offsets are "
                        "acknowledged",
                        name,
                        failure_trace(error),
                    )
                    os._exit(FATAL_EXIT)
                await ack_events(stream, events)

        app.agent(channel, name=f"verifier-{name}")(verify)


def _transient(error: DBAPIError) -> bool:
    """Connection loss, server shutdown, serialization conflicts: worth retrying."""
    if error.connection_invalidated or isinstance(error, OperationalError):
        return True
    code = getattr(error.orig, "sqlstate", None) or ""
    return str(code).startswith(("08", "40", "57"))
