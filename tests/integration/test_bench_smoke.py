"""The benchmarks run (tiny sizes): their code must not rot between `make bench` runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT, LocalStack


def test_serde_bench_runs_and_writes_its_result(local_stack: LocalStack, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABUS_REGISTRY_URL": local_stack.registry_url,
        "DATABUS_BOOTSTRAP_SERVERS": local_stack.bootstrap,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench.serde", "--events", "300", "--results", str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ratio validate+encode / raw fastavro" in result.stdout
    written = json.loads((tmp_path / "serde.json").read_text())
    assert {"name", "metric", "ours", "baseline", "ratio", "unit", "machine", "when"} <= set(
        written
    )
