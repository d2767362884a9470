"""Every answer of the monitor's HTTP front, rendered from its last snapshot at once: the
exposition, the status JSON, the board, and each connection's page and JSON."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict
from typing import NamedTuple
from urllib.parse import quote

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from consumers.monitor.board import render_board, render_connection
from consumers.monitor.service import Monitor

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class Page(NamedTuple):
    status: int
    content_type: str
    body: bytes
    gzipped: bytes | None = None
    """The body gzip-compressed, for clients that accept it (Prometheus does)."""


def _exposition(registry: CollectorRegistry) -> Page:
    """/metrics, plain and compressed once here (level 1), so that a scrape only copies bytes:
    at thousands of partitions the exposition is over a megabyte, its gzip a tenth of it."""
    body = generate_latest(registry)
    return Page(200, CONTENT_TYPE_LATEST, body, gzip.compress(body, compresslevel=1))


def status_document(monitor: Monitor) -> dict[str, object]:
    """What `/api/status` answers (and `databus status` prints)."""
    ok = monitor.last_success
    last = monitor.last_collection
    return {
        "ok": monitor.ready(),
        "last_success_at": ok.finished_at if ok else None,
        "last_error": last.error if last else None,
        "connections": [v.as_dict() for v in monitor.view()],
    }


def _readyz(ready: bool) -> Page:
    """The readiness answer, shaped as every component's (`databus.http_service`)."""
    body = {"component": "monitor", "ready": ready, "checks": {"collected": ready}}
    return Page(200 if ready else 503, JSON, json.dumps(body).encode())


def render_pages(monitor: Monitor, registry: CollectorRegistry) -> dict[str, Page]:
    """Path -> answer, for every path the front serves."""
    views = monitor.view()
    ok = monitor.last_success
    ready = monitor.ready()
    pages = {
        "/metrics": _exposition(registry),
        "/readyz": _readyz(ready),
        "/api/status": Page(200, JSON, json.dumps(status_document(monitor)).encode()),
        "/": Page(
            200, HTML, render_board(views, last_success=ok.finished_at if ok else None).encode()
        ),
    }
    for view in views:
        history = monitor.history.series(view.name)
        name = quote(view.name)
        pages[f"/connections/{name}"] = Page(200, HTML, render_connection(view, history).encode())
        doc = {**view.as_dict(), "history": [asdict(p) for p in history]}
        pages[f"/api/connections/{name}"] = Page(200, JSON, json.dumps(doc).encode())
    return pages
