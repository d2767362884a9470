"""Test helpers for observability: run components with their HTTP endpoints, and a real
Prometheus (Debian's binary) that scrapes them with the generated rules at test windows.

    prom = PrometheusServer(tmp / "prom", [("sink-tax", "127.0.0.1:PORT"), ...]).start()
    prom.wait_targets_up(); prom.alert_states(); prom.query("up"); prom.stop()

A target is any (component, host:port) pair, so the lag monitor joins with one more entry.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from databus.observability.render import to_yaml
from databus.observability.rules import TEST_WINDOWS, Windows, alerting_rules, recording_rules
from databus.observability.scrape import prometheus_config
from databus.settings import Settings
from databus.topology import load_topology
from tests.population_harness import PROJECT_ROOT, stop_worker, worker_env


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """Status and body of a GET (status 0 when nothing answers)."""
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return 0, ""
    return response.status_code, response.text


@dataclass
class Running:
    """A component started with `databus run ...`, its endpoints on `port`."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.address}{path}"

    def get(self, path: str) -> tuple[int, str]:
        return get(self.url(path))

    def output(self) -> str:
        """Everything the component logged so far."""
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return self.output()[-3000:]

    def stop(self) -> None:
        stop_worker(self.process)


def start_component(settings: Settings, name: str, args: list[str], log: Path) -> Running:
    """`databus run ARGS --metrics-port PORT` in its own process group."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", *args, "--metrics-port", str(port)],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Running(name, process, port, log)


def wait_for(condition: Any, timeout: float, what: str, *running: Running) -> Any:
    """Poll `condition()` until truthy (returned); fail with the components' logs if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for component in running:
            if component.process.poll() is not None:
                raise AssertionError(
                    f"{component.name} exited ({component.process.returncode}) before {what}:\n"
                    + component.tail()
                )
        time.sleep(0.5)
    logs = "\n".join(f"--- {c.name}\n{c.tail()}" for c in running)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def promtool_check_metrics(exposition: str) -> str:
    """What `promtool check metrics` finds in an exposition (empty: nothing)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run deploy/local/ensure-system.sh full"
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        check=False,
    )
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else " (rc)")


class PrometheusServer:
    """Debian's prometheus on a free port, scraping `targets` every second, with the rules
    generated from the topology at `windows` (evaluated every second)."""

    def __init__(
        self,
        workdir: Path,
        targets: list[tuple[str, str]],
        *,
        topology: Path = PROJECT_ROOT / "deploy" / "topology.yaml",
        windows: Windows = TEST_WINDOWS,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        graph = load_topology(topology)
        (workdir / "rules").mkdir(parents=True, exist_ok=True)
        (workdir / "rules" / "recording.yml").write_text(to_yaml(recording_rules(graph, windows)))
        (workdir / "rules" / "alerts.yml").write_text(to_yaml(alerting_rules(graph, windows)))
        config = prometheus_config(
            targets, scrape_interval="1s", scrape_timeout="900ms", evaluation_interval="1s"
        )
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is missing: run deploy/local/ensure-system.sh full"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while get(f"{self.url}/-/ready")[0] != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("prometheus did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(0.3)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_worker(self.process)

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        return response.json()

    def query(self, promql: str) -> Any:
        """The answer of the instant query API (status, data or error)."""
        return self.api("query", query=promql)

    def targets(self) -> dict[str, str]:
        """Health of each active target, by its `component` label."""
        active = self.api("targets")["data"]["activeTargets"]
        return {t["labels"]["component"]: t["health"] for t in active}

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing)."""
        return list(self.api("alerts")["data"]["alerts"])

    def firing(self, name: str, **labels: str) -> list[dict[str, Any]]:
        """Firing alerts called `name` whose labels include `labels`."""
        return [
            a
            for a in self.alerts()
            if a["labels"].get("alertname") == name
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]
