"""Every component's endpoints, exact freshness where data lands, a real Prometheus scraping
the real components with the generated rules, an alert firing, and every dashboard query
accepted by that Prometheus; the lag monitor beside them, until a killed sink fires its alert.

One flow (the components start once): population sync, outbox relay, router, the tax sink and
the usage recorder run as `databus run ...` processes with `--metrics-port`; a birth is
published; it lands in the NPD and then in the tax database.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from databus.observability.dashboards import dashboards, panel_queries, substitute
from databus.settings import Settings
from databus.topology import load_topology
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from streams.population.outbox import NPD_OUTBOX
from tests.observability_harness import (
    PrometheusServer,
    Running,
    free_port,
    promtool_check_metrics,
    start_component,
    wait_for,
)
from tests.population_harness import PROJECT_ROOT, worker_env
from tests.unit.test_dashboards import metric_names_of

DELAY = 5.0  # the birth "occurred" this long before it is published


def _samples(exposition: str, name: str, **labels: str) -> list[float]:
    """Values of the samples called `name` whose labels include `labels`."""
    return [
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


def _birth(occurred: datetime, serial: int = 424_242) -> dict[str, object]:
    """A birth registered DELAY seconds after it occurred (the publish time)."""
    event = copy.deepcopy(EXAMPLES["BirthRegistered"])
    event["event_id"] = str(uuid.uuid4())
    event["subject_pin"] = make_pin("001", date(2024, 5, 17), "FEMALE", serial)
    event["occurred_at"] = occurred.isoformat()
    event["recorded_at"] = (occurred + timedelta(seconds=DELAY)).isoformat()
    return event


def _metrics(component: Running) -> str:
    status, body = component.get("/metrics")
    assert status == 200, f"{component.name} /metrics answered {status}"
    return body


def _start(bus_ready: Settings, npd_url: str, tax_url: str, tmp: Path) -> list[Running]:
    """Every component of the flow, the relay once the NPD outbox table exists."""
    prefix = bus_ready.topic_prefix
    specs = {
        "population-sync": [
            "population-sync",
            "--database-url",
            npd_url,
            "--group",
            f"{prefix}population-sync",
        ],
        "router": ["router", "--group", f"{prefix}sector-router"],
        "sink-tax": ["sink", "tax", "--database-url", tax_url, "--group", f"{prefix}sink-tax"],
        "usage-recorder": [
            "usage-recorder",
            "--database-url",
            npd_url,
            "--group",
            f"{prefix}data-usage",
        ],
    }
    running = [
        start_component(bus_ready, name, args, tmp / f"{name}.log") for name, args in specs.items()
    ]
    try:
        npd = sa.create_engine(npd_url)
        wait_for(lambda: sa.inspect(npd).has_table(NPD_OUTBOX), 90, "the outbox", *running)
        npd.dispose()
        relay = ["outbox-relay", "--database-url", npd_url, "--table", NPD_OUTBOX]
        running.append(start_component(bus_ready, "outbox-relay", relay, tmp / "relay.log"))
    except BaseException:
        for component in running:
            component.stop()
        raise
    return running


def _start_monitor(bus_ready: Settings, components: list[Running], tmp: Path) -> Running:
    """`databus run monitor` over the test's groups, reading the components' freshness."""
    port = free_port()
    urls = [arg for c in components for arg in ("--component-metrics-url", c.url("/metrics"))]
    args = ["--port", str(port), "--interval", "1", "--window", "3"]
    args += ["--group-prefix", bus_ready.topic_prefix, *urls]
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", "monitor", *args],
        cwd=PROJECT_ROOT,
        env=worker_env(bus_ready),
        stdout=(tmp / "monitor.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Running("monitor", process, port, tmp / "monitor.log")


def _connection(monitor: Running, name: str) -> dict[str, object]:
    status, body = monitor.get("/api/status")
    if status != 200:
        return {}
    rows = {c["connection"]: c for c in json.loads(body)["connections"]}
    return dict(rows[name])


def _check_monitor_sees_tax_caught_up(monitor: Running, running: list[Running]) -> None:
    """The monitor reads the freshness where the data landed, and sees the link caught up."""
    wait_for(
        lambda: _connection(monitor, "population-to-tax").get("freshness_p99_seconds"),
        30,
        "the monitor's freshness p99 of population-to-tax",
        *running,
    )
    wait_for(
        lambda: _connection(monitor, "population-to-tax").get("status") == "OK",
        60,
        "population-to-tax OK at the monitor",
        *running,
    )


def _kill_sink_and_see_stopped(
    prometheus: PrometheusServer, running: list[Running], sink: Running, monitor: Running
) -> None:
    """The tax sink SIGKILLed: the monitor finds its connection STOPPED once the group empties
    (the broker's session timeout), and Prometheus fires the alert."""
    stopped = "DatabusConnectionStopped"
    assert not prometheus.firing(stopped, connection="population-to-tax")
    os.killpg(sink.process.pid, signal.SIGKILL)
    sink.process.wait(10)
    running.remove(sink)
    wait_for(
        lambda: prometheus.firing(stopped, connection="population-to-tax"),
        120,
        f"{stopped} firing on population-to-tax",
        *running,
    )
    assert _connection(monitor, "population-to-tax")["reason"] == "no_live_consumer"


def _check_endpoints(running: list[Running]) -> None:
    """/healthz 200 while alive, /readyz 200 once ready, with a body naming the checks."""
    for component in running:
        wait_for(lambda c=component: c.get("/healthz")[0] == 200, 60, "healthz", *running)
    for component in running:
        wait_for(
            lambda c=component: c.get("/readyz")[0] == 200, 120, f"{component.name} ready", *running
        )
        body = json.loads(component.get("/readyz")[1])
        assert body["ready"] is True and body["component"] == component.name
        assert body["checks"] and all(body["checks"].values())
        assert _samples(_metrics(component), "databus_component_ready") == [1.0]


def _check_freshness(by_name: dict[str, Running], occurred: datetime) -> None:
    """Exact freshness and watermark where the birth landed: the NPD and the tax database."""
    count = "databus_connection_freshness_seconds_count"
    sink = by_name["sink-tax"]
    wait_for(
        lambda: _samples(_metrics(sink), count, connection="population-to-tax") == [1.0],
        120,
        "the birth in the tax database",
        *by_name.values(),
    )
    for component, connection in (
        (by_name["population-sync"], "civil-status-to-population"),
        (sink, "population-to-tax"),
    ):
        text = _metrics(component)
        assert _samples(text, count, connection=connection) == [1.0]
        watermark = _samples(
            text, "databus_connection_watermark_timestamp_seconds", connection=connection
        )
        assert watermark == [occurred.timestamp()], component.name
        (seconds,) = _samples(
            text, "databus_connection_freshness_seconds_sum", connection=connection
        )
        elapsed = (datetime.now(UTC) - occurred).total_seconds()
        assert DELAY <= seconds <= elapsed, (component.name, seconds, elapsed)
        bucket = "databus_connection_freshness_seconds_bucket"
        assert _samples(text, bucket, connection=connection, le="60.0") == [1.0]
        assert _samples(text, bucket, connection=connection, le="5.0") == [0.0]


def _check_expositions(running: list[Running], personal: list[str]) -> None:
    """promtool finds nothing in any exposition; no personal value in any body or log."""
    for component in running:
        text = _metrics(component)
        assert promtool_check_metrics(text) == "", component.name
        pages = text + component.get("/readyz")[1] + component.get("/healthz")[1]
        leaked = [value for value in personal if value in pages + component.output()]
        assert not leaked, f"{component.name} exposes personal data"


def _check_dashboards(prometheus: PrometheusServer, topology_path: Path) -> None:
    """Every dashboard query, after template substitution, is accepted by this Prometheus."""
    checked = 0
    for name, board in dashboards(load_topology(topology_path)).items():
        for title, query in panel_queries(board):
            for concrete in substitute(query, board):
                answer = prometheus.query(concrete)
                assert answer["status"] == "success", (name, title, concrete, answer)
                assert metric_names_of(concrete), concrete
                checked += 1
    assert checked > 50


def _drop_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_components_freshness_prometheus_alerts_and_dashboards(
    bus_ready: Settings, pg_databases: Callable[[], str], tmp_path: Path
) -> None:
    npd_url, tax_url = pg_databases(), pg_databases()
    prefix = bus_ready.topic_prefix
    running = _start(bus_ready, npd_url, tax_url, tmp_path)
    by_name = {c.name: c for c in running}
    sink = by_name["sink-tax"]
    landing = [by_name["population-sync"], sink]
    running.append(_start_monitor(bus_ready, landing, tmp_path))
    monitor = running[-1]
    prometheus = PrometheusServer(tmp_path / "prometheus", [(c.name, c.address) for c in running])
    try:
        prometheus.start()
        _check_endpoints(running)

        occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=DELAY)
        event = _birth(occurred)
        with Publisher.for_source("civil-status", settings=bus_ready, heartbeats=False) as pub:
            future = pub.publish(event)
            assert pub.flush(30).complete
        assert future.result(0)
        _check_freshness(by_name, occurred)
        _check_monitor_sees_tax_caught_up(monitor, running)
        personal = [str(event["subject_pin"]), "Nguyễn", "Ánh", "Ngọc", "036094770381"]
        _check_expositions(running, personal)

        wait_for(
            lambda: list(prometheus.targets().values()) == ["up"] * len(running),
            30,
            "every target up",
        )
        freshness = 'databus_connection_freshness_seconds_count{connection="population-to-tax"}'
        wait_for(lambda: prometheus.query(freshness)["data"]["result"], 30, "freshness scraped")
        _check_dashboards(prometheus, bus_ready.topology)

        # a birth registered two hours late: both connections burn their freshness budget
        late = _birth(datetime.now(UTC) - timedelta(hours=2), 424_243)
        with Publisher.for_source("civil-status", settings=bus_ready, heartbeats=False) as pub:
            future = pub.publish(late)
            assert pub.flush(30).complete
        assert future.result(0)
        for connection in ("civil-status-to-population", "population-to-tax"):
            wait_for(
                lambda c=connection: prometheus.firing(
                    "DatabusFreshnessBudgetBurnFast", connection=c
                ),
                60,
                f"DatabusFreshnessBudgetBurnFast firing on {connection}",
                *running,
            )

        # dead letters growing: two poison projections, a few scrapes apart
        raw = Producer({"bootstrap.servers": bus_ready.endpoints.bootstrap_servers})
        for _ in range(2):
            raw.produce(Topics.from_settings(bus_ready).sector_topic("tax"), b"\x07bad", b"k")
            assert raw.flush(10) == 0
            time.sleep(3)
        wait_for(
            lambda: prometheus.firing("DatabusDeadLettersGrowing", consumer=f"{prefix}sink-tax"),
            60,
            "DatabusDeadLettersGrowing firing",
            *running,
        )

        # the tax database disappears: the sink turns not ready, and its alert fires
        _drop_database(tax_url)
        wait_for(lambda: sink.get("/readyz")[0] == 503, 30, "the sink not ready", *running)
        body = json.loads(sink.get("/readyz")[1])
        assert body["ready"] is False and body["checks"]["database"] is False
        assert sink.get("/healthz")[0] == 200
        wait_for(
            lambda: prometheus.firing("DatabusComponentNotReady", component="sink-tax"),
            60,
            "DatabusComponentNotReady firing",
            *running,
        )

        _kill_sink_and_see_stopped(prometheus, running, sink, monitor)
        _check_expositions([monitor], personal)
    finally:
        prometheus.stop()
        for component in running:
            component.stop()
