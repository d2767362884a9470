"""Cheap readiness checks for `databus.http_service.HealthService`.

- `DatabaseProbe`: a background thread runs `SELECT 1` every `interval` seconds; the check
  reads the last result, so a scrape never waits on a database (a probe that hangs goes stale,
  and a stale result counts as unreachable).
- `FaustAssignment`: follows a faust app's partition assignment signals; ready while the app
  holds partitions and is not rebalancing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class DatabaseProbe:
    """Whether a database answered `SELECT 1` recently."""

    def __init__(self, engine: Engine, *, interval: float = 2.0) -> None:
        self.engine = engine
        self.interval = interval
        self._last_ok = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-probe", daemon=True)

    def start(self) -> DatabaseProbe:
        """Probe in a daemon thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop probing."""
        self._stop.set()

    def probe(self) -> bool:
        """One probe now; records and returns whether the database answered."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as error:
            log.debug("database probe failed (%s)", type(error).__name__)
            return False
        self._last_ok = time.monotonic()
        return True

    def __call__(self) -> bool:
        """The check: the database answered within the last three intervals."""
        return time.monotonic() - self._last_ok <= 3 * self.interval

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probe()
            self._stop.wait(self.interval)


class FaustAssignment:
    """Whether a faust app holds partitions of its group (and is not rebalancing)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._assigned = threading.Event()
        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_partitions_revoked.connect(self._on_revoked)

    def _on_assigned(self, _sender: Any, assigned: Any, **_: Any) -> None:
        if assigned:
            self._assigned.set()
        else:
            self._assigned.clear()

    def _on_revoked(self, _sender: Any, _revoked: Any, **_: Any) -> None:
        self._assigned.clear()

    def __call__(self) -> bool:
        """The check."""
        return self._assigned.is_set() and not bool(getattr(self.app, "rebalancing", False))
