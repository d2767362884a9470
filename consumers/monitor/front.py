"""The HTTP front of the monitor: its own process, serving the pages the monitor renders.

The monitor renders every answer (`pages.render_pages`) every second and sends them down a pipe;
this process only copies bytes to sockets. Being another process, it never waits for the
monitor's GIL while a collection runs, so a scrape stays fast however busy the collection is.
`/healthz` answers 200 `{"component": "monitor", "alive": true}` while pages keep arriving (503
once they are `stale_after` seconds old); the front exits when the monitor's end of the pipe closes.

Imports nothing heavy: it is started with the `spawn` method.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


def serve_front(host: str, port: int, pipe: Connection, stale_after: float) -> None:
    """Bind, report the port (or the error) on `pipe`, then serve until the pipe closes."""
    state: dict[str, Any] = {"pages": {}, "at": time.monotonic()}
    try:
        httpd = ThreadingHTTPServer((host, port), _handler(state, stale_after))
    except OSError as exc:
        pipe.send(("error", exc.errno, exc.strerror or str(exc)))
        return
    httpd.daemon_threads = True
    pipe.send(("port", httpd.server_address[1], ""))
    serving = False
    try:
        state["pages"] = pipe.recv()  # the first pages, before any request is answered
        state["at"] = time.monotonic()
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        serving = True
        while True:
            state["pages"] = pipe.recv()
            state["at"] = time.monotonic()
    except (EOFError, OSError):
        pass
    finally:
        if serving:  # shutdown() waits for serve_forever, which must have started
            httpd.shutdown()
        httpd.server_close()


def _handler(state: dict[str, Any], stale_after: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            encoding = ""
            if path == "/healthz":
                fresh = time.monotonic() - state["at"] <= stale_after
                status = 200 if fresh else 503
                body = json.dumps({"component": "monitor", "alive": fresh}).encode()
                content_type = JSON
            else:
                page = state["pages"].get(path)
                if page is None:
                    status, content_type, body = 404, TEXT, b"not found\n"
                else:
                    status, content_type, body, gzipped = page
                    if gzipped is not None and "gzip" in self.headers.get("Accept-Encoding", ""):
                        body, encoding = gzipped, "gzip"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler
