"""The monitor's HTTP side: the board, the JSON API, /metrics, /healthz and /readyz.

Every answer is rendered from the monitor's last snapshot (nothing waits on Kafka) by a thread
of the monitor every `render_every` seconds (1), and served by the front process
(`front.py`), which holds the latest rendering. A scrape therefore costs a copy of bytes in a
process that is never busy collecting; what it shows is at most `render_every` old.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading

from prometheus_client.registry import CollectorRegistry

from consumers.monitor.front import serve_front
from consumers.monitor.pages import render_pages, status_document
from consumers.monitor.service import Monitor

__all__ = ["MonitorServer", "favour_scrapes", "status_document"]

log = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits (CPython's default is 0.005)."""


def favour_scrapes() -> None:
    """Let the renderer take the GIL from a busy collection quickly, so pages stay fresh."""
    sys.setswitchinterval(SWITCH_INTERVAL)


class MonitorServer:
    """Renders one monitor's pages and serves them on `host:port` from the front process."""

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
        self.host = host
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        stale_after = max(30.0, 10 * render_every)
        self._front = context.Process(
            target=serve_front, args=(host, port, child, stale_after), daemon=True
        )
        self._front.start()
        child.close()
        if not self._pipe.poll(60):
            self._front.kill()
            raise OSError(0, "the HTTP front did not start")
        kind, number, text = self._pipe.recv()
        if kind == "error":
            self._front.join(10)
            raise OSError(number, text)
        self.port = int(number)
        self._send()
        self._stop = threading.Event()
        self._renderer = threading.Thread(target=self._render, name="render", daemon=True)

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._renderer.start()

    def _send(self) -> None:
        self._pipe.send(render_pages(self.monitor, self.registry))

    def _render(self) -> None:
        while not self._stop.wait(self.render_every):
            try:
                self._send()
            except (BrokenPipeError, EOFError, OSError):
                log.error("the HTTP front is gone")
                return
            except Exception:  # a failed rendering keeps the previous pages
                log.exception("rendering failed")

    def stop(self) -> None:
        self._stop.set()
        if self._renderer.is_alive():
            self._renderer.join(10)
        self._pipe.close()
        self._front.join(10)
        if self._front.is_alive():
            self._front.kill()
            self._front.join(5)
