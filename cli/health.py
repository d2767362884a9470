"""Serve a component's `/metrics`, `/healthz` and `/readyz` (databus.http_service) from the CLI."""

from __future__ import annotations

from collections.abc import Mapping

from databus.http_service import Check, HealthService


def serve_health(component: str, port: int, checks: Mapping[str, Check]) -> HealthService | None:
    """Start the endpoints on 127.0.0.1:`port` (None when `port` is 0: not served)."""
    if not port:
        return None
    return HealthService(component, port, checks=checks).start()
