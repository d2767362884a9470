"""The whole pipeline with security on, every component under its own principal.

On the secure broker (TLS + SASL/SCRAM + the ACLs derived from the topology), each component
runs as its own `databus run ...` process with nothing but its own identity: the population sync,
the outbox relay (signing as the NPD), the router, the tax sink, the usage recorder, the
verifier and the monitor. A ministry publishes a signed birth; it must reach the NPD, the tax
database and the usage trail; the mobile operator's verification must be answered; the monitor
must collect without an authorization error. So the derived ACLs are proven sufficient for every
component (and the broker tests prove them minimal). Then no password or private key may show in
any component's log or /metrics.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from cli.verify_report import collect_results
from consumers.sink.store import sector_citizens
from consumers.usage.store import trail
from databus.population.schema import citizens
from databus.security import principals as p
from databus.security.signing import verifier_for
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from producers.sdk import Publisher
from producers.verification import VerificationClient
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from streams.population.outbox import NPD_OUTBOX
from tests.observability_harness import Running, free_port, wait_for
from tests.secure_harness import PROJECT_ROOT, SecureBus

HOTICH = p.agency_principal("VN/GOV/BTP/hotich")
THUEBAO = p.agency_principal("VN/GOV/BKHCN/thuebao")
NPD = "VN/GOV/BCA/dancu"


def _start(
    bus: SecureBus, principal: str, name: str, args: list[str], tmp: Path, **extra: str
) -> Running:
    """`databus run ARGS` as `principal`, in its own process group, with its HTTP endpoints."""
    port = free_port()
    option = "--port" if args[0] == "monitor" else "--metrics-port"
    log = tmp / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", *args, option, str(port)],
        cwd=PROJECT_ROOT,
        env=bus.process_env(principal, **extra),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Running(name, process, port, log)


def _components(bus: SecureBus, npd_url: str, tax_url: str, tmp: Path) -> list[Running]:
    """Every component of the flow under its own principal, the relay once the outbox exists."""
    prefix = bus.prefix
    specs: list[tuple[str, str, list[str]]] = [
        (
            p.POPULATION_SYNC,
            "population-sync",
            ["population-sync", "--database-url", npd_url, "--group", f"{prefix}population-sync"],
        ),
        (p.ROUTER, "router", ["router", "--group", f"{prefix}sector-router"]),
        (
            p.sink_principal("tax"),
            "sink-tax",
            ["sink", "tax", "--database-url", tax_url, "--group", f"{prefix}sink-tax"],
        ),
        (
            p.USAGE_RECORDER,
            "usage-recorder",
            ["usage-recorder", "--database-url", npd_url, "--group", f"{prefix}data-usage"],
        ),
        (
            p.VERIFIER,
            "verifier",
            ["verifier", "--database-url", npd_url, "--group", f"{prefix}verifier"],
        ),
        (
            p.MONITOR,
            "monitor",
            ["monitor", "--interval", "1", "--window", "3", "--group-prefix", prefix],
        ),
    ]
    running: list[Running] = []
    try:
        for principal, name, args in specs:
            running.append(_start(bus, principal, name, args, tmp))
        npd = sa.create_engine(npd_url)
        wait_for(lambda: sa.inspect(npd).has_table(NPD_OUTBOX), 120, "the outbox", *running)
        npd.dispose()
        relay = ["outbox-relay", "--database-url", npd_url, "--table", NPD_OUTBOX]
        signing = bus.signing_env("bca-dancu-2025")
        running.append(_start(bus, p.OUTBOX_RELAY, "outbox-relay", relay, tmp, **signing))
    except BaseException:
        for component in running:
            component.stop()
        raise
    return running


def _birth() -> dict[str, Any]:
    event = copy.deepcopy(EXAMPLES["BirthRegistered"])
    event["event_id"] = str(uuid.uuid4())
    event["subject_pin"] = make_pin("001", date(2024, 5, 17), "FEMALE", 515_151)
    return event


def _one(engine: sa.Engine, query: Any) -> Any:
    try:
        with engine.connect() as conn:
            return conn.execute(query).mappings().first()
    except sa.exc.SQLAlchemyError:
        return None  # the table is not there yet


def _samples(exposition: str, name: str) -> list[float]:
    return [
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    ]


def _verify(bus: SecureBus, settings: Settings, citizen: dict[str, Any]) -> str:
    """The mobile operator checks the newborn's birth date and sex: the answer's status."""
    record = {
        "record_id": "m-1",
        "pin": citizen["pin"],
        "date_of_birth": citizen["date_of_birth"],
        "sex": citizen["sex"],
    }
    with bus.acting_as(THUEBAO):
        with VerificationClient("mobile-subscribers", settings=settings, campaign="s") as client:
            request_id = client.submit(record)
            assert client.flush(30).complete
        found, _ = collect_results(settings, "mobile-subscribers", {request_id}, wait=90)
    assert request_id in found, "the verification was not answered"
    return str(found[request_id].status.value)


def _monitor_collects(monitor: Running, running: list[Running]) -> None:
    """The monitor collects (ready), without one collection error, and sees the tax link."""
    wait_for(lambda: monitor.get("/readyz")[0] == 200, 60, "the monitor ready", *running)

    def tax_status() -> Any:
        status, body = monitor.get("/api/status")
        if status != 200:
            return None
        rows = {c["connection"]: c for c in json.loads(body)["connections"]}
        return rows["population-to-tax"]["status"] == "OK"

    wait_for(tax_status, 90, "population-to-tax OK at the monitor", *running)
    metrics = monitor.get("/metrics")[1]
    assert sum(_samples(metrics, "databus_monitor_collection_errors_total")) == 0


def test_the_whole_pipeline_runs_with_every_component_under_its_own_principal(
    secure_bus: SecureBus, pg_databases: Any, tmp_path: Path
) -> None:
    npd_url, tax_url = pg_databases(), pg_databases()
    settings = secure_bus.settings()
    running = _components(secure_bus, npd_url, tax_url, tmp_path)
    by_name = {c.name: c for c in running}
    npd, tax = sa.create_engine(npd_url), sa.create_engine(tax_url)
    try:
        for component in running:
            ready = component.name + " ready"
            wait_for(lambda c=component: c.get("/readyz")[0] == 200, 180, ready, *running)
        event = _birth()
        pin = str(event["subject_pin"])
        with (
            secure_bus.acting_as(HOTICH),
            Publisher.for_source(
                "civil-status",
                settings=settings,
                heartbeats=False,
                signer=secure_bus.signer("btp-2025"),
            ) as publisher,
        ):
            publisher.publish(event).result(30)

        row = wait_for(
            lambda: _one(tax, sa.select(sector_citizens).where(sector_citizens.c.pin == pin)),
            120,
            "the birth in the tax database",
            *running,
        )
        assert row["version"] == 1 and not row["deceased"]
        projected = json.loads(row["record"])
        assert projected["pin"] == pin

        def released() -> list[dict[str, Any]]:
            with npd.connect() as conn:
                return [r for r in trail(conn, pin) if r["sector"] == "tax"]

        (usage,) = wait_for(released, 60, "the release to tax in the usage trail", *running)
        assert usage["citizen_version"] == 1
        assert usage["purpose"] and set(usage["fields"]) <= set(projected)

        citizen = _one(npd, sa.select(citizens.c.record).where(citizens.c.pin == pin))["record"]
        assert _verify(secure_bus, settings, citizen) == "MATCHED"
        _monitor_collects(by_name["monitor"], running)
        _relay_signed(secure_bus)

        for component in running:
            secure_bus.assert_no_secret(component.output(), f"the log of {component.name}")
            secure_bus.assert_no_secret(component.get("/metrics")[1], f"{component.name} /metrics")
            assert "AUTHORIZATION_FAILED" not in component.output(), component.name
    finally:
        for component in running:
            component.stop()
        npd.dispose()
        tax.dispose()


def _relay_signed(bus: SecureBus) -> None:
    """Every population change the NPD's relay published carries the NPD's valid signature."""
    topic = f"{bus.prefix}population.changes.v1"
    with bus.acting_as(None):
        records = read_all(bus.bootstrap, topic, timeout=30)
    verifier = verifier_for(load_topology(bus.topology), bus.settings(signatures="required"))
    assert records
    for record in records:
        problem = verifier.problem(NPD, topic, record.key(), record.value(), record.headers())
        assert problem is None, problem
