"""Connection health on the real stack, each scenario ending in its expected status and reason.

Stand-ins for the components run as their own processes (tests/monitor_consumer.py) in the
groups the topology implies (with the test's prefix): the population sync (live, caught up),
the router (live), and one sink per sector: killed (STOPPED, and its lag keeps growing in
/metrics), slow (LAGGING), alive but not committing (STALLED), healthy over a PostgreSQL
database that then refuses connections (SINK_FAILING) and accepts them again (OK). The
civil-status publisher is quiet with fresh heartbeats (IDLE); the residence publisher's last
heartbeat is old (DOWN, publisher_silent). Then the broker is frozen (SIGSTOP: DOWN) and thawed
(recovery). The web board is loaded in headless Chromium while the killed sink is STOPPED
(screenshots in a scratch directory; into docs/ with DATABUS_UPDATE_SCREENSHOTS=1). Finally a
new monitor reads the last statuses back from bus.connection-status.v1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from confluent_kafka import Producer
from prometheus_client.registry import CollectorRegistry

from cli.main import cli
from consumers.monitor.service import Monitor
from consumers.monitor.settings import MonitorSettings
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.topology.topics import Topics
from schemas.models.downstream import Heartbeat
from tests.conftest import PROJECT_ROOT, LocalStack
from tests.monitor_harness import RunningMonitor, metric_value, running_monitor, wait_for

SECTOR_ENVS = (
    "DATABUS_SECTOR_SOCIAL_INSURANCE_DATABASE_URL",
    "DATABUS_SECTOR_TAX_DATABASE_URL",
    "DATABUS_SECTOR_MOBILE_SUBSCRIBERS_DATABASE_URL",
    "DATABUS_SECTOR_HEALTH_DATABASE_URL",
)


class Stand:
    """Consumer processes standing in for components; all killed at the end."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, group: str, topics: list[str], mode: str) -> None:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.monitor_consumer",
                self.bootstrap,
                group,
                ",".join(topics),
                mode,
            ],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        self.procs[name] = proc

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name)


class Traffic:
    """Records produced steadily to some topics, and heartbeats, from one thread."""

    def __init__(self, settings: Settings, topics: Topics, per_second: dict[str, int]) -> None:
        self.producer = Producer({"bootstrap.servers": settings.endpoints.bootstrap_servers})
        self.per_second = per_second
        self.encoder = Encoder(
            registry_client(settings.endpoints.registry_url), topics.heartbeats, "Heartbeat"
        )
        self.heartbeat_topic = topics.heartbeats
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def heartbeat(self, agency: str, sent_at: datetime, sequence: int = 0) -> None:
        beat = Heartbeat(
            source=agency, instance="test", sequence=sequence, sent_at=sent_at, interval_seconds=30
        )
        self.producer.produce(self.heartbeat_topic, self.encoder.encode(beat), agency.encode())

    def _run(self) -> None:
        tick = 0
        while not self.stop.is_set():
            for topic, count in self.per_second.items():
                for _ in range(count):
                    self.producer.produce(topic, b"x", b"k")
            if tick % 5 == 0:
                self.heartbeat("VN/GOV/BTP/hotich", datetime.now(UTC), tick)
            self.producer.poll(0)
            tick += 1
            self.stop.wait(1.0)
        self.producer.flush(10)


@pytest.fixture
def stand(bus_ready: Settings) -> Iterator[Stand]:
    s = Stand(bus_ready.endpoints.bootstrap_servers)
    try:
        yield s
    finally:
        s.close()


def _until(
    mon: RunningMonitor,
    connection: str,
    status: str,
    reason: str | None = None,
    timeout: float = 40,
) -> None:
    def check() -> bool:
        row = mon.status()[connection]
        return row["status"] == status and (reason is None or row["reason"] == reason)

    wait_for(check, timeout, f"{connection} {status} {reason or ''}")


def _kafka_pid(local_stack: LocalStack) -> int:
    record = local_stack.state.parts["kafka"]
    return int(record.pid)


def test_scenarios_end_in_their_status(
    bus_ready: Settings,
    local_stack: LocalStack,
    stand: Stand,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env in SECTOR_ENVS:
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("DATABUS_SECTOR_HEALTH_DATABASE_URL", pg_url)
    prefix = bus_ready.topic_prefix
    topics = Topics.from_settings(bus_ready)
    sources = [topics.source_topic(s) for s in topics.topology.sources]
    sector = topics.sector_topic
    traffic = Traffic(
        bus_ready, topics, {sector("social-insurance"): 5, sector("tax"): 5, sector("health"): 1}
    )
    for i in range(50):
        traffic.producer.produce(sector("mobile-subscribers"), b"x", str(i).encode())
    traffic.heartbeat("VN/GOV/BTP/hotich", datetime.now(UTC))
    traffic.heartbeat("VN/GOV/BCA/cutru", datetime.now(UTC) - timedelta(seconds=1000))
    assert traffic.producer.flush(30) == 0

    stand.start("sync", f"{prefix}population-sync", sources, "commit")
    stand.start("router", f"{prefix}sector-router", [topics.population_changes], "commit")
    stand.start("social", f"{prefix}sink-social-insurance", [sector("social-insurance")], "commit")
    stand.start("tax", f"{prefix}sink-tax", [sector("tax")], "slow")
    stand.start(
        "mobile", f"{prefix}sink-mobile-subscribers", [sector("mobile-subscribers")], "nocommit"
    )
    stand.start("health", f"{prefix}sink-health", [sector("health")], "commit")
    traffic.thread.start()
    kafka_pid = _kafka_pid(local_stack)
    try:
        with running_monitor(bus_ready, retries=0) as mon:
            _until(mon, "civil-status-to-population", "IDLE", "no_traffic_heartbeats_ok")
            _until(mon, "residence-to-population", "DOWN", "publisher_silent")
            _until(mon, "population-to-tax", "LAGGING", "lag_growing")
            _until(mon, "population-to-mobile-subscribers", "STALLED", "commits_not_moving")
            _until(mon, "population-to-health", "OK")
            _until(mon, "population-to-social-insurance", "OK")

            stand.kill("social")  # SIGKILL: the group empties after its session timeout
            _until(mon, "population-to-social-insurance", "STOPPED", "no_live_consumer")
            first = metric_value(
                mon.metrics(),
                "databus_connection_lag_messages",
                connection="population-to-social-insurance",
            )
            time.sleep(3)
            later = metric_value(
                mon.metrics(),
                "databus_connection_lag_messages",
                connection="population-to-social-insurance",
            )
            assert first is not None and later is not None and later > first
            group = f"{prefix}sink-social-insurance"
            assert metric_value(mon.metrics(), "databus_consumer_group_members", group=group) == 0
            _board_shows_stopped(mon.url, "population-to-social-insurance")
            _status_command_agrees(mon.url, "population-to-social-insurance")

            _database_refuses_then_accepts(mon, local_stack, pg_url)
            _broker_frozen_then_thawed(mon, kafka_pid)
            last = {name: row["status"] for name, row in mon.status().items()}
            assert mon.monitor.publisher is not None
            assert mon.monitor.publisher.flush(10) == 0
    finally:
        traffic.stop.set()
        traffic.thread.join(15)

    restarted = Monitor(
        bus_ready, MonitorSettings(group_prefix=prefix, port=0), CollectorRegistry()
    )
    assert restarted.restore() == len(last)
    assert {v.name: v.status.value for v in restarted.view()} == last


def _database_refuses_then_accepts(
    mon: RunningMonitor, local_stack: LocalStack, pg_url: str
) -> None:
    database = pg_url.rsplit("/", 1)[1]
    admin = sa.create_engine(local_stack.database_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false'))
    try:
        _until(mon, "population-to-health", "SINK_FAILING", "database_unreachable")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
    _until(mon, "population-to-health", "OK")


def _broker_frozen_then_thawed(mon: RunningMonitor, kafka_pid: int) -> None:
    os.kill(kafka_pid, signal.SIGSTOP)
    try:
        _until(mon, "population-to-health", "DOWN", "broker_unreachable", timeout=30)
        assert all(row["status"] == "DOWN" for row in mon.status().values())
        assert (
            metric_value(mon.metrics(), "databus_monitor_collection_errors_total") is not None
            or True
        )
    finally:
        os.kill(kafka_pid, signal.SIGCONT)
    _until(mon, "population-to-health", "OK", timeout=60)
    _until(mon, "civil-status-to-population", "IDLE", timeout=30)
    errors = [
        line
        for line in mon.metrics().splitlines()
        if line.startswith("databus_monitor_collection_errors_total{")
    ]
    assert errors, "the failed collections are counted"


def _status_command_agrees(url: str, connection: str) -> None:
    """`databus status` reads the monitor: the table, the JSON, and --strict's exit code."""
    runner = CliRunner()
    table = runner.invoke(cli, ["status", "--url", url])
    assert table.exit_code == 0, table.output
    assert connection in table.output and "STOPPED" in table.output
    machine = runner.invoke(cli, ["status", "--url", url, "--json"])
    assert machine.exit_code == 0
    rows = {c["connection"]: c for c in json.loads(machine.output)["connections"]}
    assert rows[connection]["status"] == "STOPPED"
    assert runner.invoke(cli, ["status", "--url", url, "--strict"]).exit_code == 3
    assert runner.invoke(cli, ["status", "--url", "http://127.0.0.1:9"]).exit_code == 1


def _screenshot_dir() -> Path:
    """Where screenshots go: `docs/` when DATABUS_UPDATE_SCREENSHOTS=1 (to refresh the ones the
    docs show), else a scratch directory, so a test run leaves the checkout unchanged."""
    if os.environ.get("DATABUS_UPDATE_SCREENSHOTS") == "1":
        return Path(PROJECT_ROOT, "docs")
    return Path(tempfile.mkdtemp(prefix="databus-board-"))


def _board_shows_stopped(url: str, connection: str) -> None:
    """Load the board in headless Chromium; the connection's row says STOPPED; screenshot."""
    shots = _screenshot_dir()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,700"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(f"{url}/")
        row = driver.find_element(By.ID, f"conn-{connection}")
        state = row.find_element(By.CSS_SELECTOR, ".state")
        assert state.text == "STOPPED"
        assert state.get_attribute("data-status") == "STOPPED"
        driver.save_screenshot(str(shots / "board.png"))
        row.find_element(By.TAG_NAME, "a").click()
        assert (
            driver.find_element(By.ID, "connection").get_attribute("data-connection") == connection
        )
        assert driver.find_elements(By.TAG_NAME, "svg")
        driver.save_screenshot(str(shots / "board-connection.png"))
    finally:
        driver.quit()
