"""The HTTP side of a long-running component: `/metrics`, `/healthz` and `/readyz`.

    service = HealthService("sink-tax", port=9411, checks={"assigned": sink.assigned.is_set})
    service.start()          # a daemon thread; `service.stop()` closes it

- `/metrics`: the Prometheus exposition of the process (the default registry).
- `/healthz`: 200 while the process lives (the server thread answers).
- `/readyz`: 200 when every readiness check is true, else 503; the body names each check and
  its result (`{"component": ..., "ready": ..., "checks": {"assigned": true, ...}}`).

`databus_component_ready{component}` follows the readiness at every `/readyz` and `/metrics`.
Checks must be cheap (read a flag or a cached probe, see `databus.readiness`): a check that
raises counts as false. Bodies are bounded and carry no personal data, only check names.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from databus.metrics import COMPONENT_READY

log = logging.getLogger(__name__)
Check = Callable[[], bool]
PATHS = ("/metrics", "/healthz", "/readyz")


class HealthService:
    """Serves a component's metrics and health endpoints on `host:port` in a daemon thread."""

    def __init__(
        self,
        component: str,
        port: int,
        *,
        host: str = "127.0.0.1",
        checks: Mapping[str, Check] | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.component = component
        self.checks: dict[str, Check] = dict(checks or {})
        self.registry = registry
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        COMPONENT_READY.labels(component).set(0)

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        return int(self._server.server_address[1])

    def add_check(self, name: str, check: Check) -> None:
        """Add (or replace) a readiness check."""
        self.checks[name] = check

    def readiness(self) -> tuple[bool, dict[str, bool]]:
        """Every check's result, and whether all are true; updates the ready gauge."""
        results: dict[str, bool] = {}
        for name, check in list(self.checks.items()):
            try:
                results[name] = bool(check())
            except Exception:  # a failing check means not ready, never a failing endpoint
                log.debug("readiness check %s raised", name, exc_info=True)
                results[name] = False
        ready = all(results.values())
        COMPONENT_READY.labels(self.component).set(1 if ready else 0)
        return ready, results

    def start(self) -> HealthService:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"http-{self.component}", daemon=True
        )
        self._thread.start()
        log.info("%s: /metrics, /healthz, /readyz on port %d", self.component, self.port)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()


def _handler(service: HealthService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a slow client cannot hold a thread for long
        server_version = "databus"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                service.readiness()
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(service.registry))
            elif path == "/healthz":
                self._json(200, {"component": service.component, "alive": True})
            elif path == "/readyz":
                ready, checks = service.readiness()
                body = {"component": service.component, "ready": ready, "checks": checks}
                self._json(200 if ready else 503, body)
            else:
                self._json(404, {"error": "not found", "paths": list(PATHS)})

        def _json(self, status: int, body: object) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Requests are not logged (a scrape every few seconds would flood the log)."""

    return Handler
