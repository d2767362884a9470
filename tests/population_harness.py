"""Test helpers for the population sync: run the worker as a process, wait for the database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from databus.population.schema import applied_events, create_population_schema
from databus.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def worker_env(settings: Settings) -> dict[str, str]:
    endpoints = settings.endpoints
    return {
        **os.environ,
        "DATABUS_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "DATABUS_REGISTRY_URL": endpoints.registry_url,
        "DATABUS_TOPIC_PREFIX": settings.topic_prefix,
        "DATABUS_TOPOLOGY": str(settings.topology),
    }


def start_database_worker(
    settings: Settings, command: str, database_url: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """`databus run COMMAND --database-url URL --group <prefix>COMMAND` in its own process
    group, logging to `log`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            command,
            "--database-url",
            database_url,
            "--group",
            f"{settings.topic_prefix}{command}",
            *extra,
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker(
    settings: Settings, database_url: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """`databus run population-sync` in its own process group, logging to `log`."""
    return start_database_worker(settings, "population-sync", database_url, log, *extra)


def stop_worker(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def applied_count(engine: Engine) -> int:
    """Applied events so far (0 until the worker has created its tables)."""
    create_population_schema(engine)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(applied_events)).scalar() or 0)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"worker exited ({process.returncode}) before {what}:\n{tail}")
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def reconcile_report(
    env: dict[str, str], sector: str, url: str, npd_url: str, timeout: float = 120
) -> dict[str, Any]:
    """`databus reconcile SECTOR --json` of a sector database against a population database."""
    out = subprocess.run(
        [
            *(sys.executable, "-m", "cli", "reconcile", sector, "--database-url", url),
            *("--npd-database-url", npd_url, "--json"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.stdout)
    return report
