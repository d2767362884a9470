"""The monitor's HTTP server: the board, the JSON API, /metrics, /healthz and /readyz.

Every answer is built from the monitor's last snapshot; nothing here waits on Kafka. The
exposition is rendered in the background every `render_every` seconds (1) and /metrics serves the
latest rendering, so a scrape costs a copy of bytes however many groups there are (lag in
seconds is then at most `render_every` old).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from consumers.monitor.board import render_board, render_connection
from consumers.monitor.service import Monitor

log = logging.getLogger(__name__)


SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits (CPython's default is 0.005)."""


def favour_scrapes() -> None:
    """Let the HTTP threads take the GIL from a busy collection quickly: a scrape needs the GIL
    a few dozen times, and with the default 5 ms hand-over a collection in progress made each
    wait add up (p99 180 ms at 500 groups in bench/monitor; see docs/benchmarks.md)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


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


class MonitorServer:
    """Serves one monitor on `host:port` from a background thread."""

    def __init__(
        self,
        monitor: Monitor,
        registry: CollectorRegistry,
        host: str,
        port: int,
        *,
        render_every: float = 1.0,
    ) -> None:
        self.monitor = monitor
        self.registry = registry
        self.render_every = render_every
        self._exposition = generate_latest(registry)
        self._stop = threading.Event()
        self._renderer = threading.Thread(target=self._render, name="render", daemon=True)
        handler = self._handler()
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._renderer.start()
        self._thread.start()

    def exposition(self) -> bytes:
        """The latest rendering of the metrics."""
        return self._exposition

    def _render(self) -> None:
        while not self._stop.wait(self.render_every):
            try:
                self._exposition = generate_latest(self.registry)
            except Exception:  # a failed rendering keeps the previous one
                log.exception("metrics rendering failed")

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                log.debug("http: " + format, *args)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                monitor = server.monitor
                if path == "/metrics":
                    self._send(200, server.exposition(), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    self._send(200, b"ok\n", "text/plain; charset=utf-8")
                elif path == "/readyz":
                    ready = monitor.ready()
                    self._send(
                        200 if ready else 503,
                        b"ready\n" if ready else b"not ready\n",
                        "text/plain; charset=utf-8",
                    )
                elif path == "/api/status":
                    body = json.dumps(status_document(monitor)).encode()
                    self._send(200, body, "application/json")
                elif path == "/":
                    ok = monitor.last_success
                    page = render_board(monitor.view(), last_success=ok.finished_at if ok else None)
                    self._send(200, page.encode(), "text/html; charset=utf-8")
                elif path.startswith("/connections/") or path.startswith("/api/connections/"):
                    self._connection(path)
                else:
                    self._send(404, b"not found\n", "text/plain; charset=utf-8")

            def _connection(self, path: str) -> None:
                name = unquote(path.rsplit("/", 1)[-1])
                monitor = server.monitor
                view = next((v for v in monitor.view() if v.name == name), None)
                if view is None:
                    self._send(404, b"no such connection\n", "text/plain; charset=utf-8")
                    return
                history = monitor.history.series(name)
                if path.startswith("/api/"):
                    doc = {**view.as_dict(), "history": [asdict(p) for p in history]}
                    self._send(200, json.dumps(doc).encode(), "application/json")
                else:
                    page = render_connection(view, history)
                    self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")

        return Handler
