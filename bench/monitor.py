"""Lag monitor at scale: 500 consumer groups over 5,000 partitions, beside Kafka's own tool.

The bench makes `--topics` topics with `--partitions` partitions in all on the local broker,
writes `--records` records to every partition, and commits offsets for `--groups` groups, each
on its own `partitions / groups` partitions, at different positions (so every group lags and
its lag in seconds needs record timestamps). Then, in the same run:

1. ours: the monitor's collector (`LagCollector`, the code `databus run monitor` runs), cold
   (empty timestamp cache) and warm (the steady state: the next collections);
2. baseline: `kafka-consumer-groups --describe` over the same groups (ConsumerGroupCommand from
   the stack's jars, one JVM, every group passed with --group);
3. while collections run, a concurrent scraper (its own process, 10 scrapes a second) GETs the
   monitor's /metrics and times each answer (p99);
4. the bench process's peak memory (RSS), which holds the monitor.

Writes bench/results/monitor.json; topics and groups are deleted at the end.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import statistics
import subprocess
import time
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client.registry import CollectorRegistry

from bench.common import RESULTS, write_result
from bench.stack import delete_topics
from consumers.monitor.collector import LagCollector
from consumers.monitor.exposition import SnapshotCollector
from consumers.monitor.http import MonitorServer, favour_scrapes
from consumers.monitor.service import Monitor
from consumers.monitor.settings import MonitorSettings
from databus.runtime import tune_gc
from databus.security.client import secured
from databus.settings import Settings
from databus.stack.artifacts import java, kafka_libs


def _wait(futures: dict[Any, Future[Any]]) -> None:
    for future in futures.values():
        future.result()


def make_topics(admin: AdminClient, names: list[str], partitions: int) -> None:
    _wait(admin.create_topics([NewTopic(n, partitions, 1) for n in names], operation_timeout=120))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = admin.list_topics(timeout=30).topics
        if all(n in found and len(found[n].partitions) == partitions for n in names):
            return
        time.sleep(1)
    raise SystemExit("the bench topics did not appear")


def fill(bootstrap: str, names: list[str], partitions: int, records: int) -> None:
    producer = Producer(secured({"bootstrap.servers": bootstrap, "linger.ms": 50, "acks": 1}))
    for name in names:
        for p in range(partitions):
            for _ in range(records):
                while True:
                    try:
                        producer.produce(name, b"x" * 100, partition=p)
                        break
                    except BufferError:
                        producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120):
        raise SystemExit("records not delivered")


def commit_groups(
    admin: AdminClient, groups: list[str], slots: list[tuple[str, int]], records: int
) -> dict[str, list[str]]:
    """Group i commits on its own share of the partitions; returns group -> topics."""
    share = max(1, len(slots) // len(groups))
    out: dict[str, list[str]] = {}
    futures: dict[str, Future[Any]] = {}
    for i, group in enumerate(groups):
        mine = slots[i * share : (i + 1) * share]
        offsets = [TopicPartition(t, p, 1 + (i % max(1, records - 1))) for t, p in mine]
        out[group] = sorted({t for t, _ in mine})
        request = [ConsumerGroupTopicPartitions(group, offsets)]
        futures.update(admin.alter_consumer_group_offsets(request, request_timeout=60))
    _wait(futures)
    return out


def consumer_groups_tool(
    settings: Settings, bootstrap: str, groups: list[str]
) -> tuple[float, int]:
    """Seconds of `kafka-consumer-groups --describe` over `groups`, and the rows it printed."""
    libs = kafka_libs(settings.cache_dir, Path("/dev/null"))
    command = [
        java(),
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--timeout",
        "60000",
    ]
    for group in groups:
        command += ["--group", group]
    began = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout
    seconds = time.perf_counter() - began
    rows = sum(1 for line in out.splitlines() if line.strip() and not line.startswith("GROUP"))
    return seconds, rows


SCRAPE_PAUSE = 0.1
"""Seconds between scrapes: 10 a second, 150 times Prometheus's default rate, while a scraper
going back to back would take a whole core of this 2-core machine by itself (1.4 MB each)."""


class Scraper:
    """A separate process (as Prometheus is) that GETs /metrics back to back between `start`
    and `finish`, and returns the latencies."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._go = multiprocessing.Event()
        self._done = multiprocessing.Event()
        self._out: multiprocessing.Queue[tuple[list[float], int]] = multiprocessing.Queue()
        self._process = multiprocessing.Process(
            target=_scrape, args=(url, self._go, self._done, self._out), daemon=True
        )
        self._process.start()
        self.latencies: list[float] = []
        self.bytes = 0

    def start(self) -> None:
        self._go.set()

    def finish(self) -> None:
        self._done.set()
        self.latencies, self.bytes = self._out.get(timeout=60)
        self._process.join(10)


def _scrape(url: str, go: Any, done: Any, out: Any) -> None:
    latencies: list[float] = []
    size = 0
    go.wait()
    with httpx.Client() as client:
        while not done.is_set():
            began = time.perf_counter()
            response = client.get(url, timeout=10)
            latencies.append(time.perf_counter() - began)
            size = len(response.content)
            time.sleep(SCRAPE_PAUSE)
    out.put((latencies, size))


def p99(values: list[float]) -> float:
    """The 99th percentile, interpolated between observed values ("inclusive"): the default
    "exclusive" method extrapolates past the largest sample when there are fewer than 100."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main() -> None:  # noqa: PLR0915 (one measured story, told in order)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=5000, help="partitions in all")
    parser.add_argument("--topics", type=int, default=500, help="topics (each group owns one)")
    parser.add_argument("--records", type=int, default=5, help="records per partition")
    parser.add_argument(
        "--collections",
        type=int,
        default=40,
        help="warm collections timed (and scraped: 40 give some 300 scrapes for the p99)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    command = (
        f"python -m bench.monitor --groups {args.groups} --partitions {args.partitions} "
        f"--topics {args.topics}"
    )
    settings = Settings()
    bootstrap = settings.endpoints.bootstrap_servers
    admin = AdminClient(secured({"bootstrap.servers": bootstrap}))
    run = uuid.uuid4().hex[:6]
    per_topic = max(1, args.partitions // args.topics)
    names = [f"bench-mon-{run}.t{i:03d}.v1" for i in range(args.topics)]
    groups = [f"bench-mon-{run}-g{i:04d}" for i in range(args.groups)]
    print(f"making {len(names)} topics x {per_topic} partitions, {len(groups)} groups ...")
    make_topics(admin, names, per_topic)
    try:
        fill(bootstrap, names, per_topic, args.records)
        slots = [(n, p) for n in names for p in range(per_topic)]
        expected = commit_groups(admin, groups, slots, args.records)

        options = MonitorSettings(
            port=0,
            publish_status=False,
            timestamp_fetch_budget=len(slots) * 2,
            timestamp_fetch_seconds=30,
        )
        registry = CollectorRegistry()
        monitor = Monitor(settings, options, registry)
        monitor.collector = LagCollector(
            bootstrap,
            names,
            expected,
            timeout=30,
            fetch_budget=options.timestamp_fetch_budget,
            fetch_seconds=options.timestamp_fetch_seconds,
        )
        registry.register(SnapshotCollector(monitor))
        server = MonitorServer(monitor, registry, "127.0.0.1", 0)
        server.start()
        tune_gc()  # as `databus run monitor` does
        favour_scrapes()
        scraper = Scraper(f"{server.address}/metrics")
        scraper.start()
        cold = monitor.step()
        gc.freeze()  # as Monitor.run does after each collection
        if not cold.ok:
            raise SystemExit(f"collection failed: {cold.error}")
        warm = []
        for _ in range(args.collections):
            collection = monitor.step()
            gc.freeze()
            warm.append(collection.duration)
        scraper.finish()
        server.stop()
        partitions_seen = sum(len(g.partitions) for g in cold.groups.values())
        lagging = sum(1 for g in cold.groups.values() for p in g.partitions if p.lag)
        print(
            f"ours: cold collection {cold.duration:.2f} s ({cold.timestamps_fetched} record "
            f"timestamps read, {cold.timestamps_missing} missing), warm median "
            f"{statistics.median(warm):.2f} s; {len(cold.groups)} groups, {partitions_seen} "
            f"group-partitions ({lagging} lagging)"
        )
        tool_seconds, tool_rows = consumer_groups_tool(settings, bootstrap, groups)
        print(
            f"kafka-consumer-groups --describe over the same groups: {tool_seconds:.2f} s "
            f"({tool_rows} rows)"
        )
        scrape_p99 = p99(scraper.latencies) * 1000
        if os.environ.get("BENCH_MONITOR_DEBUG"):
            print(sorted(round(x * 1000, 1) for x in scraper.latencies))
        print(
            f"/metrics during collections: p99 {scrape_p99:.1f} ms over {len(scraper.latencies)} "
            f"scrapes ({scraper.bytes / 1e6:.1f} MB each)"
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of the bench process (monitor inside): {peak_mb:.0f} MB")
        ratio = cold.duration / tool_seconds
        print(f"ratio ours (cold) / kafka-consumer-groups: {ratio:.3f} (lower is faster)")
        print(f"command: {command}")
        path = write_result(
            "monitor",
            "seconds of one lag collection (cold timestamp cache), beside "
            "kafka-consumer-groups --describe over the same groups",
            cold.duration,
            tool_seconds,
            unit="s",
            command=command,
            results_dir=args.results,
            groups=len(cold.groups),
            partitions=len(slots),
            group_partitions=partitions_seen,
            warm_collection_seconds=round(statistics.median(warm), 3),
            timestamps_read_cold=cold.timestamps_fetched,
            timestamps_missing_cold=cold.timestamps_missing,
            baseline_is="kafka-consumer-groups --describe (ConsumerGroupCommand, Kafka 4.1.1 "
            "jars) over the same groups, JVM start included",
            baseline_rows=tool_rows,
            metrics_p99_ms=round(scrape_p99, 2),
            metrics_scrapes=len(scraper.latencies),
            metrics_bytes=scraper.bytes,
            peak_rss_mb=round(peak_mb, 1),
            target_seconds=10,
            target_metrics_p99_ms=50,
        )
        print(f"wrote {path}")
    finally:
        try:
            _wait(admin.delete_consumer_groups(groups, request_timeout=60))
        except Exception as exc:  # cleanup is best effort
            print(f"groups not all deleted: {exc}")
        delete_topics(bootstrap, names)


if __name__ == "__main__":
    main()
