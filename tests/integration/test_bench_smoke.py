"""The benchmarks run (tiny sizes): their code must not rot between `make bench` runs.

Each runs as `make bench` runs it, against the test stack, and must print its comparison and the
command, and write its result file with the fields DESIGN.md §11 asks for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, LocalStack

RESULT_FIELDS = {"name", "metric", "ours", "baseline", "ratio", "unit", "machine", "when"}


@dataclass(frozen=True)
class BenchCase:
    """One benchmark at a tiny size and what its run must show."""

    name: str
    args: list[str]
    printed: list[str]
    positive: list[str]
    """Result fields that must be > 0."""
    equal: dict[str, Any] = field(default_factory=dict)
    postgres: bool = True
    module: str = ""
    """bench.<module> when the result's name is not the module's; `{tmp}` in args is the
    test's temporary directory."""


CASES = [
    BenchCase(
        "serde",
        ["--events", "300"],
        ["ratio validate+encode / raw fastavro"],
        ["ours", "baseline"],
        postgres=False,
    ),
    BenchCase(
        "outbox",
        ["--rows", "2000"],
        ["ratio relay / plain produce"],
        ["ours", "plain_produce"],
        {"rows": 2000},
    ),
    BenchCase(
        "sync",
        ["--events", "3000", "--workers", "2"],
        [
            "ratio ours / COPY",
            "2 workers in one group",
            "command: python -m bench.sync --events 3000",
        ],
        ["ours", "baseline", "publish_seconds"],
        {"events": 3000},
    ),
    BenchCase(
        "consume",
        ["--records", "3000", "--batch-size", "100"],
        [
            "baseline: plain confluent-kafka consumer",
            "faust's own consumer",
            "ours: streams.faust_delivery.LeanConsumer",
            "ratio lean / faust's own",
        ],
        ["ours", "baseline", "stock_us"],
        {"records": 3000},
        postgres=False,
    ),
    BenchCase(
        "sink",
        ["--rows", "3000", "--batch-size", "500"],
        [
            "inserts: ratio ours / baseline",
            "updates: ratio ours / baseline",
            "command: python -m bench.sink --rows 3000 --batch-size 500",
        ],
        ["ours", "baseline", "ours_update", "baseline_update"],
        {"rows": 3000},
    ),
    BenchCase(
        "backfill",
        ["--citizens", "3000", "--batch-size", "500", "--workers", "1"],
        ["ratio ours / COPY", "command: python -m bench.backfill --citizens 3000"],
        ["ours", "baseline", "seconds"],
        {"citizens": 3000},
    ),
    BenchCase(
        "e2e",
        ["--rate", "100", "--seconds", "6", "--warmup", "1"],
        ["publish -> sector row committed", "p99.9", "Kafka EndToEndLatency", "command:"],
        ["ours", "p50_ms"],
        {"missing": 0},
    ),
    BenchCase(
        "e2e-curve",
        ["--rates", "50,100", "--seconds", "5", "--warmup", "1", "--plot", "{tmp}/curve.png"],
        ["kept up", "CPU share", "population-sync", "Kafka EndToEndLatency", "command:"],
        ["ours"],
        module="e2e",
    ),
    BenchCase(
        "monitor",
        ["--groups", "20", "--partitions", "100", "--topics", "20", "--collections", "1"],
        [
            "kafka-consumer-groups --describe over the same groups",
            "/metrics during collections",
            "command: python -m bench.monitor --groups 20",
        ],
        ["ours", "baseline", "metrics_p99_ms", "peak_rss_mb"],
        {"groups": 20, "group_partitions": 100},
        postgres=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bench_runs_and_writes_its_result(
    local_stack: LocalStack, tmp_path: Path, case: BenchCase
) -> None:
    env = {
        **os.environ,
        "DATABUS_REGISTRY_URL": local_stack.registry_url,
        "DATABUS_BOOTSTRAP_SERVERS": local_stack.bootstrap,
    }
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in case.args]
    command = [sys.executable, "-m", f"bench.{case.module or case.name}", *args]
    command += ["--results", str(tmp_path)]
    if case.postgres:
        command += ["--database-url", local_stack.database_url("postgres")]
    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for text in case.printed:
        assert text in result.stdout
    written = json.loads((tmp_path / f"{case.name}.json").read_text())
    assert set(written) >= RESULT_FIELDS
    assert written["name"] == case.name
    for key in case.positive:
        assert written[key] > 0, key
    for key, value in case.equal.items():
        assert written[key] == value, key
    if case.name == "e2e-curve":
        assert [row["rate"] for row in written["rows"]] == [50, 100]
        assert all(row["usage"]["sink"]["cpu_share"] > 0 for row in written["rows"])
        assert (tmp_path / "curve.png").stat().st_size > 10_000
