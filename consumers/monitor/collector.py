"""One collection: every consumer group on the bus's topics, with batched Admin API calls.

Per collection: one metadata request (partitions of the bus's topics), one ListGroups, one
DescribeGroups for all groups, one OffsetFetch per group all in flight at once, one ListOffsets
for the log-end and one for the log-start of every partition; then the timestamps of the first
unconsumed records not yet cached (`TimestampReader`, one consumer, within a budget).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

# Re-exported without __all__ (see databus/kafka_admin.py); public API of confluent-kafka.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    OffsetSpec,
)

from consumers.monitor.snapshot import Collection, GroupPosition, PartitionPosition
from consumers.monitor.timestamps import Key, TimestampCache, TimestampReader
from databus.kafka_retry import reason_code, retrying
from databus.security.client import secured

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


class LagCollector:
    """Collects the positions of every group on `topics`; the `expected` groups (group ->
    topics it should read, from the topology) are reported on those topics even before they
    exist or commit."""

    def __init__(
        self,
        bootstrap: str,
        topics: Iterable[str],
        expected: Mapping[str, Iterable[str]] | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        cache: TimestampCache | None = None,
        fetch_budget: int = 5000,
        fetch_seconds: float = 4.0,
        newest_of: Iterable[str] = (),
        client_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topics = frozenset(topics)
        self.expected = {g: frozenset(ts) for g, ts in (expected or {}).items()}
        self.timeout = timeout
        self.retries = retries
        self.cache = cache or TimestampCache(100_000)
        self.fetch_budget = fetch_budget
        self.fetch_seconds = fetch_seconds
        self.newest_of = frozenset(newest_of)
        self.metadata_max_age = 30.0
        self._metadata: tuple[float, list[tuple[str, int]]] | None = None
        """Topics whose newest record's time is read too (the connections' publisher topics)."""
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "logger": log,
            "socket.connection.setup.timeout.ms": int(timeout * 1000),
        }
        config.update(client_config or {})
        self._admin = AdminClient(secured(config))
        self._reader = TimestampReader(bootstrap, dict(client_config or {}))

    def close(self) -> None:
        self._reader.close()

    # ------------------------------------------------------------------ one collection

    def collect(self) -> Collection:
        """Look once; never raises for a broker problem (the `Collection` carries the reason)."""
        started = time.time()
        try:
            groups, fetched, missing, newest = self._collect()
        except KafkaException as exc:
            log.warning("collection failed: %s", reason_code(exc))
            return Collection(started, time.time(), error=reason_code(exc))
        return Collection(started, time.time(), groups, None, fetched, missing, newest)

    def _collect(self) -> tuple[dict[str, GroupPosition], int, int, dict[str, float]]:
        partitions = self._partitions()
        group_ids = self._group_ids()
        described = self._describe(group_ids)
        offsets = self._offsets(group_ids)
        tps = [TopicPartition(t, p) for t, p in partitions]
        ends = self._list_offsets(tps, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        starts = self._list_offsets(tps, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        groups: dict[str, GroupPosition] = {}
        for group in group_ids:
            committed = offsets.get(group, {})
            if group not in self.expected and not committed:
                continue  # a group of other topics
            topics = {t for t, _ in committed} | self.expected.get(group, frozenset())
            positions = tuple(
                PartitionPosition(
                    t, p, committed.get((t, p)), starts.get((t, p), 0), ends.get((t, p), 0)
                )
                for t, p in partitions
                if t in topics
            )
            members, state = described.get(group, (0, "UNKNOWN"))
            groups[group] = GroupPosition(group, members, state, positions)
        newest_keys = [
            (t, p, ends[(t, p)] - 1)
            for t, p in partitions
            if t in self.newest_of and ends.get((t, p), 0) > starts.get((t, p), 0)
        ]
        return self._with_timestamps(groups, newest_keys)

    def _partitions(self) -> list[tuple[str, int]]:
        """The partitions of the bus's topics; metadata is asked again after `metadata_max_age`
        seconds only (building it holds the GIL, which would stall a scrape)."""
        now = time.monotonic()
        if self._metadata is not None and now - self._metadata[0] < self.metadata_max_age:
            self._ping()
            return self._metadata[1]
        metadata = retrying(lambda: self._admin.list_topics(timeout=self.timeout), self.retries)
        out: list[tuple[str, int]] = []
        for name in sorted(self.topics):
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None:
                continue
            out.extend((name, p) for p in sorted(topic.partitions))
        self._metadata = (now, out)
        return out

    def _ping(self) -> None:
        """A cheap request that fails when the broker does not answer (cluster id)."""
        self._admin.describe_cluster(request_timeout=self.timeout).result()

    def _group_ids(self) -> list[str]:
        def listed() -> Any:
            return self._admin.list_consumer_groups(request_timeout=self.timeout).result()

        result = retrying(listed, self.retries)
        found = {g.group_id for g in result.valid}
        return sorted(found | set(self.expected))

    def _describe(self, group_ids: list[str]) -> dict[str, tuple[int, str]]:
        if not group_ids:
            return {}
        futures = self._admin.describe_consumer_groups(group_ids, request_timeout=self.timeout)
        out: dict[str, tuple[int, str]] = {}
        for group, future in futures.items():
            try:
                description = self._result(future, lambda g=group: self._describe_one(g))
            except KafkaException:
                out[group] = (0, "UNKNOWN")
                continue
            state = getattr(description.state, "name", str(description.state))
            out[group] = (len(description.members or []), str(state))
        return out

    def _describe_one(self, group: str) -> Future[Any]:
        return self._admin.describe_consumer_groups([group], request_timeout=self.timeout)[group]

    def _offsets(self, group_ids: list[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of every group on the bus's topics: one request per group, all
        in flight together."""
        futures: dict[str, Future[Any]] = {}
        for group in group_ids:
            futures.update(self._offset_request(group))
        out: dict[str, dict[tuple[str, int], int]] = {}
        for group, future in futures.items():
            result = self._result(future, lambda g=group: self._offset_request(g)[g])
            out[group] = {
                (tp.topic, tp.partition): tp.offset
                for tp in result.topic_partitions or []
                if tp.topic in self.topics and tp.offset >= 0 and tp.error is None
            }
        return out

    def _offset_request(self, group: str) -> dict[str, Future[Any]]:
        request = [ConsumerGroupTopicPartitions(group)]
        return self._admin.list_consumer_group_offsets(request, request_timeout=self.timeout)

    def _list_offsets(self, tps: list[TopicPartition], spec: Any) -> dict[tuple[str, int], int]:
        if not tps:
            return {}
        request = dict.fromkeys(tps, spec)

        def call() -> dict[tuple[str, int], int]:
            futures = self._admin.list_offsets(request, request_timeout=self.timeout)
            return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}

        return retrying(call, self.retries)

    def _result(self, future: Future[Any], again: Any) -> Any:
        """A future's result; a transient failure is retried with `again()` (a new future)."""
        try:
            return future.result()
        except KafkaException:
            pass
        return retrying(lambda: again().result(), self.retries)

    # ------------------------------------------------------------------ timestamps

    def _with_timestamps(
        self, groups: dict[str, GroupPosition], newest_keys: list[Key]
    ) -> tuple[dict[str, GroupPosition], int, int, dict[str, float]]:
        wanted: dict[Key, None] = {k: None for k in newest_keys if self.cache.get(k) is None}
        for group in groups.values():
            for p in group.partitions:
                key = (p.topic, p.partition, p.next_offset)
                if p.lag and self.cache.get(key) is None:
                    wanted[key] = None
        to_read = list(wanted)[: self.fetch_budget]
        fetched = self._reader.read(to_read, self.fetch_seconds) if to_read else {}
        for key, ts in fetched.items():
            self.cache.put(key, ts)
        missing = 0
        out = {}
        for name, group in groups.items():
            positions = []
            for p in group.partitions:
                cached = self.cache.get((p.topic, p.partition, p.next_offset)) if p.lag else None
                if p.lag and cached is None:
                    missing += 1
                positions.append(
                    PartitionPosition(p.topic, p.partition, p.committed, p.start, p.end, cached)
                )
            out[name] = GroupPosition(group.group, group.members, group.state, tuple(positions))
        newest: dict[str, float] = {}
        for key in newest_keys:
            newest_ts = self.cache.get(key)
            if newest_ts is not None:
                newest[key[0]] = max(newest_ts, newest.get(key[0], 0.0))
        return out, len(fetched), missing, newest
