"""Demo step: the lag monitor watched the whole flow; `databus status` shows every connection
and the web board's address. The monitor runs beside the demo (`databus run monitor`, its own
process) and is stopped with it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from cli.demo.population import _start, _stop
from cli.demo.run_id import GROUP_PREFIX
from cli.output import console
from cli.status_cmd import fetch_status, status_table
from databus.settings import Settings
from databus.stack.process import free_port


class DemoMonitor:
    """`databus run monitor` for the demo's groups, on a free port."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["run", "monitor", "--port", str(self.port), "--interval", "2"]
        args += ["--window", "3", "--group-prefix", GROUP_PREFIX]
        self.process: subprocess.Popen[bytes] = _start(settings, args, workdir / "monitor.log")

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        _stop(self.process)


def show_live(monitor: DemoMonitor) -> None:
    """`databus status` while the router and the sinks run (after a full health window)."""
    if not monitor.wait_ready():
        return
    time.sleep(7)  # a full window (3 collections, 2 s apart) with the components running
    console.print("[bold]while the router and the sinks run[/] (`databus status`):")
    _print(fetch_status(monitor.url), monitor.url)


def _print(doc: dict[str, Any], url: str) -> None:
    (console if console.is_terminal else Console(width=160)).print(status_table(doc, url))


def show_health(monitor: DemoMonitor) -> bool:
    """Print `databus status` as the monitor sees the connections after the flow."""
    if not monitor.wait_ready():
        console.print("[red]the monitor did not become ready[/] (see monitor.log)")
        return False
    time.sleep(5)  # a few collections after the last step
    doc = fetch_status(monitor.url)
    _print(doc, monitor.url)
    console.print(
        "After the flow: the demo's components have been stopped, so their connections show "
        "STOPPED (no live consumer); mobile-subscribers has no sink in the demo."
    )
    console.print(
        f"web board: {monitor.url}/ (served while the monitor runs; to keep one running: "
        f"`databus run monitor --group-prefix {GROUP_PREFIX}` then http://127.0.0.1:9308/)",
        markup=False,
        highlight=False,
    )
    return bool(doc["connections"])
