"""The monitor's lag against Kafka's own tool, and its lag in seconds against known times.

A group consumes part of a topic and stops; records were produced with known CreateTime
timestamps. The monitor's lag per partition must equal the LAG column of
`kafka-consumer-groups --describe` (run from the stack's jars) for the same group at the same
moment, a partition without a commit must be an explicit series, and the lag in seconds must be
the age of the first unconsumed record within one collection interval. The exposition must
pass `promtool check metrics`.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx

from consumers.monitor.collector import LagCollector
from databus.settings import Settings
from databus.topology.topics import Topics
from tests.monitor_harness import (
    RENDER_EVERY,
    consume,
    consumer_groups_describe,
    group_consumer,
    metric_value,
    produce_at,
    running_monitor,
    wait_for,
)


def test_lag_equals_kafka_consumer_groups_and_seconds_are_exact(bus_ready: Settings) -> None:
    bootstrap = bus_ready.endpoints.bootstrap_servers
    topics = Topics.from_settings(bus_ready)
    topic = topics.source_topic("civil-status")
    group = f"{bus_ready.topic_prefix}population-sync"
    now_ms = int(time.time() * 1000)
    # partition p gets 10 records, 1 s apart, the first 100 s (+ 10 s per partition) ago
    stamps = {p: [now_ms - (100 + 10 * p) * 1000 + i * 1000 for i in range(10)] for p in (0, 1)}
    for p, ts in stamps.items():
        produce_at(bootstrap, topic, p, ts)
    produce_at(bootstrap, topic, 2, [now_ms - 5000] * 4)
    consumer = group_consumer(bootstrap, group, [topic])
    consume(consumer, 1, timeout=20)  # one committed record, then only one more per commit
    consume(consumer, 4, timeout=20)
    consumer.close()  # the consumer is stopped: nothing moves from here

    collection = LagCollector(bootstrap, topics.names(), {group: [topic]}).collect()
    assert collection.ok, collection.error
    ours = {(p.topic, p.partition): p for p in collection.groups[group].partitions}
    theirs = consumer_groups_describe(bus_ready, [group])
    compared = 0
    for (g, t, partition), lag in theirs.items():
        assert g == group
        position = ours[(t, partition)]
        if lag == "-":
            assert position.committed is None
        else:
            assert position.committed is not None and position.lag == int(lag), (t, partition)
            compared += 1
    assert compared >= 1
    assert len(ours) == 3  # every partition of the topic, committed or not

    with running_monitor(bus_ready, interval_seconds=1.0) as mon:
        wait_for(lambda: mon.monitor.last_success is not None, 30, "a collection")
        wait_for(
            lambda: (
                metric_value(mon.metrics(), "databus_consumer_group_lag_seconds", group=group)
                is not None
            ),
            30,
            "lag seconds",
        )
        text = mon.metrics()
        scraped_at = time.time()
        reported = metric_value(
            text, "databus_consumer_group_lag_seconds", group=group, topic=topic
        )
        oldest = min(
            stamps[p.partition][p.next_offset] / 1000
            if p.partition in stamps
            else (now_ms - 5000) / 1000
            for p in ours.values()
            if p.lag
        )
        assert reported is not None
        # within one collection interval (plus the rendering period of /metrics)
        assert abs(reported - (scraped_at - oldest)) <= 1.0 + RENDER_EVERY
        for (_, partition), position in ours.items():
            labels = {"group": group, "topic": topic, "partition": str(partition)}
            assert (
                metric_value(text, "databus_consumer_group_lag_messages", **labels) == position.lag
            )
            uncommitted = metric_value(
                text, "databus_consumer_group_partition_uncommitted", **labels
            )
            assert uncommitted == (1.0 if position.committed is None else 0.0)
        assert metric_value(text, "databus_consumer_group_members", group=group) == 0.0
        assert httpx.get(f"{mon.url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{mon.url}/readyz", timeout=5).status_code == 200
        promtool = shutil.which("promtool")
        assert promtool, "promtool (Debian prometheus) is needed"
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), (
            check.stdout + check.stderr
        )
