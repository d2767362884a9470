"""Serve a component's `/metrics`, `/healthz` and `/readyz` (databus.http_service) from the CLI."""

from __future__ import annotations

from collections.abc import Mapping

from databus.http_service import Check, HealthService
from databus.settings import Settings


def serve_health(component: str, port: int, checks: Mapping[str, Check]) -> HealthService | None:
    """Start the endpoints on `port` of `DATABUS_METRICS_HOST` (default 127.0.0.1; None when
    `port` is 0: not served)."""
    if not port:
        return None
    host = Settings().metrics_host
    return HealthService(component, port, host=host, checks=checks).start()
