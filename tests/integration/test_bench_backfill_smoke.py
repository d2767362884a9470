"""bench/backfill runs (tiny size): its code must not rot between `make bench` runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT, LocalStack


def test_backfill_bench_runs_and_writes_its_result(local_stack: LocalStack, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABUS_REGISTRY_URL": local_stack.registry_url,
        "DATABUS_BOOTSTRAP_SERVERS": local_stack.bootstrap,
    }
    command = [
        sys.executable,
        "-m",
        "bench.backfill",
        "--citizens",
        "3000",
        "--batch-size",
        "500",
        "--workers",
        "1",
        "--results",
        str(tmp_path),
        "--database-url",
        local_stack.database_url("postgres"),
    ]
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
    assert "ratio ours / COPY" in result.stdout
    assert "command: python -m bench.backfill --citizens 3000" in result.stdout
    written = json.loads((tmp_path / "backfill.json").read_text())
    assert {"name", "metric", "ours", "baseline", "ratio", "unit", "machine", "when"} <= set(
        written
    )
    assert written["name"] == "backfill" and written["citizens"] == 3000
    assert written["ours"] > 0 and written["baseline"] > 0 and written["seconds"] > 0
