"""The component endpoints on a real socket: /metrics, /healthz, /readyz (200 and 503)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from databus.http_service import HealthService


@pytest.fixture
def service() -> Iterator[tuple[HealthService, dict[str, bool]]]:
    state = {"assigned": False}
    svc = HealthService("unit-test", 0, checks={"assigned": lambda: state["assigned"]}).start()
    svc.add_check("later", lambda: True)
    try:
        yield svc, state
    finally:
        svc.stop()


def _get(svc: HealthService, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{svc.port}{path}", timeout=5)


def test_readiness_follows_its_checks(service: tuple[HealthService, dict[str, bool]]) -> None:
    svc, state = service
    alive = _get(svc, "/healthz")
    assert alive.status_code == 200 and alive.json() == {"component": "unit-test", "alive": True}
    not_ready = _get(svc, "/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"] == {"assigned": False, "later": True}
    assert 'databus_component_ready{component="unit-test"} 0.0' in _get(svc, "/metrics").text
    state["assigned"] = True
    ready = _get(svc, "/readyz")
    assert ready.status_code == 200 and json.loads(ready.text)["ready"] is True
    metrics = _get(svc, "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'databus_component_ready{component="unit-test"} 1.0' in metrics.text


def test_a_raising_check_means_not_ready(service: tuple[HealthService, dict[str, bool]]) -> None:
    svc, state = service
    state["assigned"] = True

    def broken() -> bool:
        raise RuntimeError("database exploded")

    svc.add_check("database", broken)
    answer = _get(svc, "/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"] is False
    assert "exploded" not in answer.text


def test_unknown_paths_are_404(service: tuple[HealthService, dict[str, bool]]) -> None:
    svc, _ = service
    assert _get(svc, "/").status_code == 404
    assert _get(svc, "/metrics/../etc").status_code == 404
