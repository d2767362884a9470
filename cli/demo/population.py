"""Demo step: the population sync applies the three ministries' events to the embedded
population database (SQLite), then the outbox relay publishes the resulting changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from rich.table import Table
from sqlalchemy import create_engine, func, select

from cli.demo.run_id import GROUP_PREFIX
from cli.output import console
from databus.consumer_groups import POPULATION_SYNC
from databus.settings import Settings

TIMEOUT = 300.0


def show_population_sync(settings: Settings, workdir: Path) -> bool:
    """Run `databus run population-sync` on SQLite until every published event is applied."""
    from databus.population.schema import (
        applied_events,
        citizens,
        create_population_schema,
        facts_of,
        field_facts,
        lineage,
        parked_events,
    )

    database = workdir / "npd.sqlite"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database.resolve()}"
    engine = create_engine(url)
    create_population_schema(engine)
    wanted = _event_ids(workdir / "population" / "events.jsonl")
    log = workdir / "population-sync.log"
    worker = _start(
        settings,
        [
            "run",
            "population-sync",
            "--database-url",
            url,
            "--group",
            f"{GROUP_PREFIX}{POPULATION_SYNC}",
        ],
        log,
    )
    started = time.monotonic()
    done = 0
    try:
        while time.monotonic() - started < TIMEOUT and worker.poll() is None:
            with engine.connect() as conn:
                done = int(
                    conn.execute(select(func.count()).select_from(applied_events)).scalar() or 0
                )
            if done >= len(wanted):
                break
            time.sleep(0.5)
    finally:
        _stop(worker)
    elapsed = time.monotonic() - started
    with engine.connect() as conn:
        rows = conn.execute(
            select(applied_events.c.outcome, func.count().label("n")).group_by(
                applied_events.c.outcome
            )
        ).all()
        outcomes: Counter[str] = Counter({str(row.outcome): row.n for row in rows})
        people = int(conn.execute(select(func.count()).select_from(citizens)).scalar() or 0)
        versions = int(conn.execute(select(func.sum(citizens.c.version))).scalar() or 0)
        trail = int(conn.execute(select(func.count()).select_from(lineage)).scalar() or 0)
        fact_rows = conn.execute(
            select(field_facts.c.facts, field_facts.c.fields_off, field_facts.c.active)
        ).all()
        parked = int(conn.execute(select(func.count()).select_from(parked_events)).scalar() or 0)
    table = Table("population database (SQLite)", "count")
    for label, value in [
        ("events applied", outcomes.get("applied", 0)),
        ("late events recorded, no change", outcomes.get("late", 0)),
        ("reference events", outcomes.get("reference", 0)),
        ("events parked (subject not yet born)", parked),
        ("citizens", people),
        ("citizen versions", versions),
        ("lineage rows (which event set which fields of which version)", trail),
        ("fact rows (one per citizen and event)", len(fact_rows)),
        ("facts in them (every value an event gave a field)", sum(len(r.facts) for r in fact_rows)),
        (
            "facts that still count",
            sum(
                counts
                for r in fact_rows
                for _, _, counts in facts_of(r.facts, r.fields_off, r.active)
            ),
        ),
    ]:
        table.add_row(label, f"{value:,}")
    console.print(table)
    console.print(
        f"{done:,} of {len(wanted):,} published events applied in {elapsed:.1f} s "
        f"by the faust worker (log {log})"
    )
    relayed = _relay(settings, url, workdir / "npd-relay.log")
    console.print(
        f"outbox relay: {relayed} rows of population.changes.v1 / "
        "population.citizens.v1 published from the population database's outbox"
    )
    return done >= len(wanted) and parked == 0 and relayed > 0


def _event_ids(path: Path) -> set[str]:
    with path.open(encoding="utf-8") as handle:
        return {json.loads(line)["event_id"] for line in handle}


def _start(settings: Settings, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    endpoints = settings.endpoints
    env = {
        **os.environ,
        "DATABUS_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "DATABUS_REGISTRY_URL": endpoints.registry_url,
        "DATABUS_TOPIC_PREFIX": settings.topic_prefix,
        "DATABUS_TOPOLOGY": str(settings.topology),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _relay(settings: Settings, url: str, log: Path) -> int:
    """Drain the NPD outbox with `databus run outbox-relay`; rows published, or -1 on failure."""
    from databus.outbox import outbox_table

    process = _start(
        settings,
        ["run", "outbox-relay", "--database-url", url, "--table", "npd_outbox", "--drain"],
        log,
    )
    if process.wait(TIMEOUT) != 0:
        return -1
    table = outbox_table("npd_outbox")
    with create_engine(url).connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.published_at.is_not(None))
            ).scalar()
            or 0
        )
