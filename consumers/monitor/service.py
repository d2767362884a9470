"""The monitor: collect, observe, judge, record; the HTTP side reads `view()` and never Kafka."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from prometheus_client import Counter, Histogram
from prometheus_client.registry import CollectorRegistry

from consumers.monitor.collector import LagCollector
from consumers.monitor.connections import ConnectionSpec, connection_specs
from consumers.monitor.freshness import FreshnessReader
from consumers.monitor.health import (
    HopObservation,
    Objectives,
    Observation,
    SinkProbe,
    Verdict,
    judge,
)
from consumers.monitor.heartbeats import HeartbeatFollower
from consumers.monitor.history import History, Point
from consumers.monitor.probes import ProbeRunner
from consumers.monitor.settings import MonitorSettings
from consumers.monitor.snapshot import Collection, topic_lag, topic_lag_seconds
from consumers.monitor.status_log import (
    StatusPublisher,
    log_change,
    now_utc,
    read_last_statuses,
)
from consumers.monitor.timestamps import TimestampCache
from databus.registry import registry_client
from databus.serde import Decoder, Encoder
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from schemas.models.downstream import ConnectionState, ConnectionStatusChanged, Heartbeat

log = logging.getLogger(__name__)

STATUS_RECORD = "ConnectionStatusChanged"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60)


@dataclass(frozen=True)
class HopView:
    group: str
    topic: str
    members: int
    lag_messages: int
    lag_seconds: float | None
    uncommitted_partitions: int


@dataclass(frozen=True)
class ConnectionView:
    """One connection as the board, the JSON API and `databus status` show it."""

    name: str
    status: ConnectionState
    reason: str
    detail: str
    since: float
    lag_messages: int
    lag_seconds: float
    freshness_p99: float | None
    freshness_objective: float
    last_event_at: float | None
    last_heartbeat_at: float | None
    hops: tuple[HopView, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "connection": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "detail": self.detail,
            "since": self.since,
            "lag_messages": self.lag_messages,
            "lag_seconds": round(self.lag_seconds, 3),
            "freshness_p99_seconds": self.freshness_p99,
            "freshness_objective_seconds": self.freshness_objective,
            "last_event_at": self.last_event_at,
            "last_heartbeat_at": self.last_heartbeat_at,
            "hops": [asdict(h) for h in self.hops],
        }


@dataclass
class _Judged:
    verdict: Verdict
    since: float
    window: deque[Observation] = field(default_factory=deque)


class MonitorMetrics:
    """The monitor's own health metrics (the snapshot's metrics come from `exposition`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "databus_monitor_collection_duration_seconds",
            "Duration of each collection.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "databus_monitor_collection_errors_total",
            "Failed collections, by reason code.",
            ["reason"],
            registry=registry,
        )


class Monitor:
    """Collects every `interval` seconds; judges every connection over its window."""

    def __init__(
        self,
        settings: Settings,
        options: MonitorSettings,
        registry: CollectorRegistry,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.options = options
        self.clock = clock
        self.topology = load_topology(settings.topology)
        self.topics = Topics.from_settings(settings, self.topology)
        self.specs: list[ConnectionSpec] = connection_specs(
            self.topology, self.topics, options.group_prefix
        )
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        endpoints = settings.endpoints
        self.bootstrap = endpoints.bootstrap_servers
        expected: dict[str, set[str]] = {}
        for spec in self.specs:
            for hop in spec.hops:
                expected.setdefault(hop.group, set()).add(hop.topic)
        self.collector = LagCollector(
            self.bootstrap,
            self.topics.names(),
            expected,
            timeout=options.kafka_timeout_seconds,
            retries=options.retries,
            cache=TimestampCache(options.timestamp_cache_size),
            fetch_budget=options.timestamp_fetch_budget,
            fetch_seconds=options.timestamp_fetch_seconds,
            newest_of={spec.hops[-1].topic for spec in self.specs},
        )
        registry_url = endpoints.registry_url
        self._registry_client = registry_client(registry_url)
        self.heartbeats = HeartbeatFollower(
            self.bootstrap,
            self.topics.heartbeats,
            Decoder(self._registry_client, self.topics.heartbeats, Heartbeat),
            lookback=max(s.heartbeat_interval_seconds for s in self.specs) * 3
            if self.specs
            else 900,
        )
        urls = {
            spec.name: os.environ[spec.database_url_env]
            for spec in self.specs
            if spec.database_url_env and os.environ.get(spec.database_url_env)
        }
        self.probes = ProbeRunner(
            urls, options.probe_interval_seconds, options.probe_timeout_seconds
        )
        self.freshness = FreshnessReader(options.component_metrics_urls)
        self.history = History(options.history_seconds, step=max(1.0, options.interval_seconds))
        self.metrics = MonitorMetrics(registry)
        self._status_decoder = Decoder(
            self._registry_client, self.topics.connection_status, ConnectionStatusChanged
        )
        self.publisher = (
            StatusPublisher(
                self.bootstrap,
                self.topics.connection_status,
                Encoder(
                    self._registry_client, self.topics.connection_status, "ConnectionStatusChanged"
                ),
            )
            if options.publish_status
            else None
        )
        self._lock = threading.Lock()
        self._judged: dict[str, _Judged] = {}
        self._last_ok: Collection | None = None
        self._last: Collection | None = None
        self._restored = 0

    # ------------------------------------------------------------------ lifecycle

    def restore(self) -> int:
        """Take each connection's last published status as its current one; how many."""
        last = read_last_statuses(
            self.bootstrap, self.topics.connection_status, self._status_decoder
        )
        with self._lock:
            for spec in self.specs:
                change = last.get(spec.name)
                if change is not None:
                    self._judged[spec.name] = _Judged(
                        Verdict(change.status, change.reason, change.detail),
                        change.changed_at.timestamp(),
                    )
        self._restored = len([s for s in self.specs if s.name in last])
        return self._restored

    def run(self, stop: threading.Event) -> None:
        """Collect until `stop` is set, with the background readers running beside it."""
        targets = [self.heartbeats.run, self.probes.run]
        if self.freshness.urls:
            targets.append(self._scrape_freshness)
        threads = [threading.Thread(target=t, args=(stop,), daemon=True) for t in targets]
        for thread in threads:
            thread.start()
        try:
            while not stop.is_set():
                began = time.monotonic()
                self.step()
                # what survives a collection is long-lived: keep it out of the collector's
                # scans (a full scan pauses every thread, the HTTP ones too)
                gc.freeze()
                stop.wait(max(0.0, self.options.interval_seconds - (time.monotonic() - began)))
        finally:
            if self.publisher is not None:
                self.publisher.flush(5)
            self.collector.close()

    def _scrape_freshness(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.freshness.scrape()
            stop.wait(self.options.interval_seconds)

    # ------------------------------------------------------------------ one step

    def step(self) -> Collection:
        """One collection, then the verdicts; returns the collection."""
        collection = self.collector.collect()
        self.metrics.duration.observe(collection.duration)
        if not collection.ok:
            self.metrics.errors.labels(collection.error or "unknown").inc()
        heartbeats = self.heartbeats.last_seen()
        probes = self.probes.results()
        now = collection.finished_at
        with self._lock:
            self._last = collection
            if collection.ok:
                self._last_ok = collection
        for spec in self.specs:
            obs = self._observe(
                spec, collection, heartbeats.get(spec.agency), probes.get(spec.name), now
            )
            self._judge(spec, obs)
        fresh = self.freshness.p99()
        for view in self.view():
            self.history.add(
                view.name,
                Point(now, view.lag_messages, view.lag_seconds, fresh.get(view.name)),
            )
        return collection

    def _observe(
        self,
        spec: ConnectionSpec,
        collection: Collection,
        heartbeat_at: float | None,
        sink: SinkProbe | None,
        now: float,
    ) -> Observation:
        if not collection.ok:
            return Observation(now, False, (), heartbeat_at, sink)
        hops = []
        for hop in spec.hops:
            group = collection.groups.get(hop.group)
            positions = group.on_topic(hop.topic) if group else []
            hops.append(
                HopObservation(
                    hop.group,
                    group.members if group else 0,
                    topic_lag(positions),
                    sum(p.committed or 0 for p in positions),
                    sum(p.end for p in positions),
                    topic_lag_seconds(positions, now),
                )
            )
        return Observation(now, True, tuple(hops), heartbeat_at, sink)

    def _judge(self, spec: ConnectionSpec, obs: Observation) -> None:
        objectives = Objectives(
            spec.freshness_seconds,
            spec.heartbeat_interval_seconds,
            self.options.heartbeat_grace,
            self.options.window,
        )
        with self._lock:
            judged = self._judged.get(spec.name)
            previous = judged.verdict if judged else None
            if judged is None:
                judged = self._judged[spec.name] = _Judged(
                    Verdict(ConnectionState.OK, "starting"), obs.at
                )
            judged.window.append(obs)
            while len(judged.window) > self.options.window:
                judged.window.popleft()
            verdict = judge(list(judged.window), objectives)
            changed = previous is None or previous.status != verdict.status
            judged.verdict = verdict
            if changed:
                judged.since = obs.at
        if changed:
            change = ConnectionStatusChanged(
                connection=spec.name,
                status=verdict.status,
                previous=previous.status if previous else None,
                reason=verdict.reason,
                detail=verdict.detail,
                lag_messages=obs.lag,
                lag_seconds=obs.lag_seconds,
                changed_at=now_utc(),
                monitor=self.instance,
            )
            log_change(change)
            if self.publisher is not None:
                self.publisher.publish(change)

    # ------------------------------------------------------------------ reading

    @property
    def last_collection(self) -> Collection | None:
        with self._lock:
            return self._last

    @property
    def last_success(self) -> Collection | None:
        with self._lock:
            return self._last_ok

    def ready(self) -> bool:
        """A collection succeeded within three intervals."""
        ok = self.last_success
        return (
            ok is not None
            and self.clock() - ok.finished_at <= 3 * self.options.interval_seconds + 5
        )

    def view(self, now: float | None = None) -> list[ConnectionView]:
        """Every connection as of now (lag seconds computed now, from the last snapshot)."""
        now = self.clock() if now is None else now
        with self._lock:
            collection = self._last_ok
            judged = dict(self._judged)
        heartbeats = self.heartbeats.last_seen()
        fresh = self.freshness.p99()
        out = []
        for spec in self.specs:
            hops = []
            for hop in spec.hops:
                group = collection.groups.get(hop.group) if collection else None
                positions = group.on_topic(hop.topic) if group else []
                hops.append(
                    HopView(
                        hop.group,
                        hop.topic,
                        group.members if group else 0,
                        topic_lag(positions),
                        topic_lag_seconds(positions, now),
                        sum(1 for p in positions if p.committed is None),
                    )
                )
            j = judged.get(spec.name)
            verdict = j.verdict if j else Verdict(ConnectionState.DOWN, "no_observation")
            newest = collection.newest_record_at.get(spec.hops[-1].topic) if collection else None
            out.append(
                ConnectionView(
                    name=spec.name,
                    status=verdict.status,
                    reason=verdict.reason,
                    detail=verdict.detail,
                    since=j.since if j else now,
                    lag_messages=sum(h.lag_messages for h in hops),
                    lag_seconds=max((h.lag_seconds or 0.0 for h in hops), default=0.0),
                    freshness_p99=fresh.get(spec.name),
                    freshness_objective=spec.freshness_seconds,
                    last_event_at=newest,
                    last_heartbeat_at=heartbeats.get(spec.agency),
                    hops=tuple(hops),
                )
            )
        return out
