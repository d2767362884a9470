"""The monitor's HTTP server: the board, the JSON API, /metrics, /healthz and /readyz.

Every answer is built from the monitor's last snapshot; nothing here waits on Kafka.
"""

from __future__ import annotations

import json
import logging
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

    def __init__(self, monitor: Monitor, registry: CollectorRegistry, host: str, port: int) -> None:
        self.monitor = monitor
        self.registry = registry
        handler = self._handler()
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
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
                    self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
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
