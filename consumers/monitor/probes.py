"""Whether a sector database accepts writes: a bounded probe, run in the background.

Each probe opens a fresh connection (no pool) with a connect timeout, runs `SELECT 1`, and asks
whether the session is read-only (PostgreSQL `transaction_read_only`, MariaDB/MySQL
`@@read_only`). Unreachable, refusing logins, timing out or read-only all mean the sink cannot
write: SINK_FAILING with reason `database_unreachable`, `database_timeout` or
`database_read_only`. The URL comes from the sector's `database_url_env` variable in the
monitor's environment; without it the sector is not probed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from consumers.monitor.health import SinkProbe

log = logging.getLogger(__name__)


def probe_database(url: str, timeout: float) -> SinkProbe:
    """One probe of the database at `url` (never raises; the URL is never in the result)."""
    engine_url = sa.make_url(url)
    backend = engine_url.get_backend_name()
    connect_args: dict[str, object] = {}
    if backend == "postgresql":
        connect_args = {"connect_timeout": max(1, int(timeout))}
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": timeout, "read_timeout": timeout}
    engine = sa.create_engine(engine_url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            if backend == "postgresql":
                read_only = conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "on"
            elif backend in ("mysql", "mariadb"):
                read_only = bool(conn.execute(sa.text("SELECT @@read_only")).scalar())
            else:
                read_only = False
        return SinkProbe(False, "database_read_only") if read_only else SinkProbe(True)
    except SQLAlchemyError as exc:
        log.info("database probe failed: %s", type(getattr(exc, "orig", None) or exc).__name__)
        return SinkProbe(False, "database_unreachable")
    finally:
        engine.dispose()


class ProbeRunner:
    """Probes every named database every `interval` seconds, each bounded by `timeout`."""

    def __init__(self, urls: Mapping[str, str], interval: float, timeout: float) -> None:
        self.urls = dict(urls)
        self.interval = interval
        self.timeout = timeout
        self._results: dict[str, SinkProbe] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(self.urls)), thread_name_prefix="probe"
        )

    def results(self) -> dict[str, SinkProbe]:
        with self._lock:
            return dict(self._results)

    def probe_all(self) -> None:
        futures = {
            name: self._pool.submit(probe_database, url, self.timeout)
            for name, url in self.urls.items()
        }
        for name, future in futures.items():
            try:
                result = future.result(timeout=self.timeout + 1.0)
            except FutureTimeout:
                result = SinkProbe(False, "database_timeout")
            with self._lock:
                self._results[name] = result

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.probe_all()
            stop.wait(self.interval)
        self._pool.shutdown(wait=False, cancel_futures=True)
