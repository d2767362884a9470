"""`databus status [--watch] [--json]`: every connection's health, read from the monitor's
JSON endpoint (`GET <monitor>/api/status`, served by `databus run monitor`).

Exit codes: 0 the monitor answered (with `--strict`: and every connection is OK or IDLE);
1 the monitor cannot be reached or answered badly; 3 (`--strict`) some connection is unhealthy.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from cli.output import console, emit_json, fail

DEFAULT_URL = "http://127.0.0.1:9308"
UNHEALTHY_EXIT = 3
HEALTHY = frozenset({"OK", "IDLE"})
COLOURS = {
    "OK": "green",
    "IDLE": "blue",
    "LAGGING": "yellow",
    "STALLED": "dark_orange",
    "STOPPED": "red",
    "SINK_FAILING": "red",
    "DOWN": "bold red",
}


def fetch_status(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """The monitor's status document; SystemExit(1) with a clear message when unreachable."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/status", timeout=timeout)
        response.raise_for_status()
        doc = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        name = type(exc).__name__
        fail(f"the monitor at {url} does not answer ({name}): start `databus run monitor`")
    if not isinstance(doc, dict) or "connections" not in doc:
        fail(f"the monitor at {url} answered something else than a status document")
    return doc


def _age(seconds: Any) -> str:
    if seconds is None:
        return "—"
    value = float(seconds)
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _when(at: Any, now: float) -> str:
    if at is None:
        return "—"
    stamp = datetime.fromtimestamp(float(at), UTC).strftime("%H:%M:%S")
    return f"{stamp} ({_age(max(0.0, now - float(at)))} ago)"


def _wide(console_: Console) -> Console:
    """Output that is not a terminal (CI logs, pipes) gets room for the whole table."""
    return console_ if console_.is_terminal else Console(width=160)


def status_table(doc: dict[str, Any], url: str) -> Table:
    """The terminal table of the status document."""
    now = time.time()
    table = Table(
        title=f"connection health from {url} "
        f"(last collection {_when(doc.get('last_success_at'), now)})",
    )
    table.add_column("connection", no_wrap=True)  # whole names, for people and for grep
    table.add_column("status", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for name in ("lag (msgs)", "lag (s)", "freshness p99"):
        table.add_column(name, justify="right")
    table.add_column("last event seen")
    for c in doc["connections"]:
        colour = COLOURS.get(c["status"], "white")
        table.add_row(
            c["connection"],
            f"[{colour}]{c['status']}[/]",
            c["reason"] + (f" ({c['detail']})" if c.get("detail") else ""),
            f"{c['lag_messages']:,}",
            _age(c["lag_seconds"]),
            _age(c.get("freshness_p99_seconds")),
            _when(c.get("last_event_at"), now),
        )
    return table


@click.command("status")
@click.option(
    "--url",
    default=lambda: os.environ.get("DATABUS_MONITOR_URL", DEFAULT_URL),
    show_default=f"$DATABUS_MONITOR_URL or {DEFAULT_URL}",
    help="Address of the monitor (`databus run monitor`).",
)
@click.option("--watch", is_flag=True, help="Redraw every --every seconds until interrupted.")
@click.option("--every", default=2.0, show_default=True, type=click.FloatRange(min=0.2))
@click.option("--strict", is_flag=True, help="Exit 3 unless every connection is OK or IDLE.")
@click.option("--json", "as_json", is_flag=True, help="Print the monitor's status document.")
def status(url: str, watch: bool, every: float, strict: bool, as_json: bool) -> None:
    """Every connection: status, reason, lag in messages and seconds, freshness, last event."""
    if watch and not as_json:
        from rich.live import Live

        try:
            with Live(status_table(fetch_status(url), url), console=console, screen=False) as live:
                while True:
                    time.sleep(every)
                    live.update(status_table(fetch_status(url), url))
        except KeyboardInterrupt:
            return
    while True:
        doc = fetch_status(url)
        if as_json:
            emit_json(doc)
        else:
            _wide(console).print(status_table(doc, url))
        if not watch:
            break
        time.sleep(every)
    if strict and any(c["status"] not in HEALTHY for c in doc["connections"]):
        raise SystemExit(UNHEALTHY_EXIT)
