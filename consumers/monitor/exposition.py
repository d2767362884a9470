"""The monitor's /metrics: a custom collector that reads the last snapshot, never Kafka.

Names and labels are the contract of docs/observability.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consumers.monitor.snapshot import topic_lag, topic_lag_seconds
from schemas.models.downstream import ConnectionState

if TYPE_CHECKING:
    from consumers.monitor.service import Monitor


class SnapshotCollector(Collector):
    """Yields the lag and status metrics of the monitor's last successful collection."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        now = self.monitor.clock()
        yield from self._groups(now)
        yield from self._connections(now)
        last = GaugeMetricFamily(
            "databus_monitor_last_success_timestamp_seconds",
            "End of the last successful collection (Unix seconds).",
        )
        ok = self.monitor.last_success
        if ok is not None:
            last.add_metric([], ok.finished_at)
        yield last
        ready = GaugeMetricFamily(
            "databus_component_ready",
            "1 when the component is ready (its /readyz answers 200), else 0.",
            labels=["component"],
        )
        ready.add_metric(["monitor"], 1.0 if self.monitor.ready() else 0.0)
        yield ready

    def _groups(self, now: float) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "databus_consumer_group_lag_messages",
            "Log-end offset minus committed offset (the whole partition without a commit).",
            labels=["group", "topic", "partition"],
        )
        uncommitted = GaugeMetricFamily(
            "databus_consumer_group_partition_uncommitted",
            "1 when the group has no committed offset on the partition, else 0.",
            labels=["group", "topic", "partition"],
        )
        topic_lag_family = GaugeMetricFamily(
            "databus_consumer_group_topic_lag_messages",
            "Lag in messages summed over the topic's partitions.",
            labels=["group", "topic"],
        )
        seconds = GaugeMetricFamily(
            "databus_consumer_group_lag_seconds",
            "Age of the oldest unconsumed record (0 when caught up).",
            labels=["group", "topic"],
        )
        members = GaugeMetricFamily(
            "databus_consumer_group_members",
            "Live members of the group (0 when every consumer died).",
            labels=["group"],
        )
        collection = self.monitor.last_success
        for group in collection.groups.values() if collection else ():
            members.add_metric([group.group], group.members)
            for topic in group.topics():
                positions = group.on_topic(topic)
                for p in positions:
                    labels = [group.group, topic, str(p.partition)]
                    lag.add_metric(labels, p.lag)
                    uncommitted.add_metric(labels, 1 if p.committed is None else 0)
                topic_lag_family.add_metric([group.group, topic], topic_lag(positions))
                age = topic_lag_seconds(positions, now)
                if age is not None:
                    seconds.add_metric([group.group, topic], age)
        yield from (lag, uncommitted, topic_lag_family, seconds, members)

    def _connections(self, now: float) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "databus_connection_lag_messages",
            "Lag of the connection's consumer groups on its topics.",
            labels=["connection"],
        )
        seconds = GaugeMetricFamily(
            "databus_connection_lag_seconds",
            "Lag in seconds of the connection (oldest unconsumed record on its way).",
            labels=["connection"],
        )
        status = GaugeMetricFamily(
            "databus_connection_status",
            "1 for the connection's current state, 0 for the others.",
            labels=["connection", "status"],
        )
        heartbeat = GaugeMetricFamily(
            "databus_connection_last_heartbeat_timestamp_seconds",
            "When the publisher's last heartbeat was seen (Unix seconds).",
            labels=["connection"],
        )
        for view in self.monitor.view(now):
            lag.add_metric([view.name], view.lag_messages)
            seconds.add_metric([view.name], view.lag_seconds)
            for state in ConnectionState:
                status.add_metric([view.name, state.value], 1 if state is view.status else 0)
            if view.last_heartbeat_at is not None:
                heartbeat.add_metric([view.name], view.last_heartbeat_at)
        yield from (lag, seconds, status, heartbeat)
