"""Shared helpers of the benchmarks: machine description and the result file."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine() -> str:
    """CPU model, core count and Python version of this machine."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def pin_to_one_core() -> None:
    """Run on one CPU so that 'per core' means what it says."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def write_result(
    name: str,
    metric: str,
    ours: float,
    baseline: float | None,
    *,
    unit: str,
    command: str,
    results_dir: Path = RESULTS,
    **extra: Any,
) -> Path:
    """Write `<results_dir>/<name>.json` with the fields DESIGN.md §11 asks for."""
    results_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "name": name,
        "metric": metric,
        "ours": round(ours, 1),
        "baseline": round(baseline, 1) if baseline is not None else None,
        "ratio": round(ours / baseline, 3) if baseline else None,
        "unit": unit,
        "machine": machine(),
        "when": datetime.now(UTC).isoformat(),
        "command": command,
        **extra,
    }
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path
