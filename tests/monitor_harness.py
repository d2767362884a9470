"""Helpers for the monitor's integration tests: an in-process monitor, raw records at known
times, plain consumers standing in for components, and Kafka's own consumer-groups tool."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka import Consumer, Producer
from prometheus_client.registry import CollectorRegistry

from consumers.monitor.exposition import SnapshotCollector
from consumers.monitor.http import MonitorServer
from consumers.monitor.service import Monitor
from consumers.monitor.settings import MonitorSettings
from databus.settings import Settings
from databus.stack.artifacts import java, kafka_libs

RENDER_EVERY = 0.25
"""Seconds between renderings of /metrics in the tests (the monitor's default is 1)."""


@dataclass
class RunningMonitor:
    monitor: Monitor
    server: MonitorServer
    stop: threading.Event

    @property
    def url(self) -> str:
        return self.server.address

    def status(self) -> dict[str, dict[str, object]]:
        doc = httpx.get(f"{self.url}/api/status", timeout=5).json()
        return {c["connection"]: c for c in doc["connections"]}

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text


@contextmanager
def running_monitor(settings: Settings, **options: object) -> Iterator[RunningMonitor]:
    """A monitor with its HTTP server on a free port, collecting in a thread."""
    defaults: dict[str, object] = {
        "port": 0,
        "interval_seconds": 1.0,
        "window": 4,
        "kafka_timeout_seconds": 2.0,
        "probe_interval_seconds": 1.0,
        "probe_timeout_seconds": 2.0,
        "group_prefix": settings.topic_prefix,
    }
    defaults.update(options)
    registry = CollectorRegistry()
    monitor = Monitor(settings, MonitorSettings(**defaults), registry)  # type: ignore[arg-type]
    registry.register(SnapshotCollector(monitor))
    monitor.restore()
    server = MonitorServer(monitor, registry, "127.0.0.1", 0, render_every=RENDER_EVERY)
    server.start()
    stop = threading.Event()
    thread = threading.Thread(target=monitor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield RunningMonitor(monitor, server, stop)
    finally:
        stop.set()
        thread.join(30)
        server.stop()


def produce_at(bootstrap: str, topic: str, partition: int, stamps_ms: list[int]) -> None:
    """Raw records on one partition with the given CreateTime timestamps."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for ts in stamps_ms:
        producer.produce(topic, b"x", b"k", partition=partition, timestamp=ts)
    assert producer.flush(30) == 0


def group_consumer(bootstrap: str, group: str, topics: list[str], **extra: object) -> Consumer:
    config: dict[str, object] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
    }
    config.update(extra)
    consumer = Consumer(config)
    consumer.subscribe(topics)
    return consumer


def consume(consumer: Consumer, count: int, *, commit: bool = True, timeout: float = 30) -> int:
    """Take up to `count` records (waiting at most `timeout`), committing each if asked."""
    taken = 0
    deadline = time.monotonic() + timeout
    while taken < count and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error() is not None:
            continue
        taken += 1
        if commit:
            consumer.commit(message=msg, asynchronous=False)
    return taken


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def consumer_groups_describe(
    settings: Settings, groups: list[str]
) -> dict[tuple[str, str, int], str]:
    """Kafka's own `kafka-consumer-groups --describe` (from the stack's jars):
    (group, topic, partition) -> LAG column ('-' when nothing is committed)."""
    libs = kafka_libs(settings.cache_dir, Path("/dev/null"))
    command = [
        java(),
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server",
        settings.endpoints.bootstrap_servers,
        "--describe",
    ]
    for group in groups:
        command += ["--group", group]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    return parse_describe(out)


def parse_describe(text: str) -> dict[tuple[str, str, int], str]:
    rows: dict[tuple[str, str, int], str] = {}
    header: list[str] = []
    for line in text.splitlines():
        cells = re.split(r"\s+", line.strip())
        if not cells or not cells[0]:
            continue
        if cells[0] == "GROUP":
            header = cells
            continue
        if header and len(cells) >= 6:
            row = dict(zip(header, cells, strict=False))
            rows[(row["GROUP"], row["TOPIC"], int(row["PARTITION"]))] = row["LAG"]
    return rows


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in an exposition (None when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            return float(value)
    return None
