"""Reconciliation through the real stack: drift made behind the bus's back is found and repaired.

A generated population is applied to a population database (SQLite, built once for the
module); `databus backfill` fills a sector database (PostgreSQL, SQLite or MariaDB; each with
another sector, `mobile-subscribers` erasing deceased citizens). Then rows are changed (values
and flags, keeping their versions, or only a raised version), deleted and added directly in the
sector database. `databus reconcile` must find every one (exit 1, drift per field, no PIN in
its report), `--repair` must fix them (exit 0, clean re-check), and a later plain check must
pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, select

from consumers.sink.store import sector_citizens
from databus.population.schema import citizens, create_population_schema, pin_links
from databus.registry import registry_client
from databus.serde import Decoder
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from producers.generator import GeneratorConfig, generate
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.domain import make_pin
from schemas.models.downstream import SectorProjection
from streams.population.apply import AppliedChange, Incoming, PopulationApplier
from tests.conftest import PROJECT_ROOT
from tests.population_harness import worker_env

CITIZENS = 400
SECTORS = {"postgres": "social-insurance", "sqlite": "mobile-subscribers", "mariadb": "tax"}


class _NoOutbox:
    def write(self, conn: sa.Connection, changes: Sequence[AppliedChange]) -> None:
        pass


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A population database (SQLite) built once from generated events."""
    out = tmp_path_factory.mktemp("population")
    topology = load_topology(PROJECT_ROOT / "deploy" / "topology.yaml")
    generate(
        GeneratorConfig(
            citizens=CITIZENS, out_dir=out, seed=4, start=date(2024, 1, 1), end=date(2026, 11, 20)
        ),
        topology,
    )
    with (out / "events.jsonl").open(encoding="utf-8") as lines:
        events = [json.loads(line) for line in lines]
    path = out / "npd.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    create_population_schema(engine)
    applier = PopulationApplier(topology, _NoOutbox())
    models = [event_from_data(_domain(e["event_type"]), e) for e in events]
    for start in range(0, len(models), 500):
        with engine.begin() as conn:
            applier.apply_batch(conn, [Incoming(m) for m in models[start : start + 500]])
    engine.dispose()
    return path


@pytest.fixture(params=list(SECTORS))
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sector_url(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'sector.sqlite'}"
    return str(request.getfixturevalue("pg_url" if dialect == "postgres" else "mariadb_url"))


def test_drift_behind_the_bus_is_found_and_repaired(
    bus_ready: Settings, population: Path, dialect: str, sector_url: str, tmp_path: Path
) -> None:
    sector = SECTORS[dialect]
    npd_path = tmp_path / "npd.sqlite"
    shutil.copy(population, npd_path)
    npd_url = f"sqlite:///{npd_path}"
    npd = create_engine(npd_url)
    engine = create_engine(sector_url)
    run = _Commands(bus_ready, sector, sector_url, npd_url)

    done = run.json("backfill", "--workers", "0")
    versions = _versions(npd, citizens)
    assert done["rows"] == len(versions) >= CITIZENS
    clean = run.reconcile()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    if sector == "mobile-subscribers":  # deceased citizens are erased, their tombstone kept
        with engine.connect() as conn:
            erased = conn.execute(
                select(sector_citizens.c.record).where(sector_citizens.c.deceased.is_(True))
            ).all()
        assert erased and all(r.record is None for r in erased)

    # A re-established PIN's old row is not drift (the router keeps it too).
    superseded = _add_superseded_row(npd, engine)
    tampered = _tamper(engine, superseded)

    found = run.reconcile()
    assert found.returncode == 1, found.stdout + found.stderr
    for pin in (*tampered["all"], superseded):  # personal data stays out of the report
        assert pin not in found.stdout
    drift = run.reconcile_json()
    assert drift["returncode"] == 1
    report = drift["drift"]
    assert "pins" not in report
    counts = {k: report[k] for k in ("missing", "extra", "changed", "version_ahead")}
    assert counts == {"missing": 2, "extra": 2, "changed": 3, "version_ahead": 1}
    assert report["fields"] == {"deceased": 1, "family_name": 2, "version": 1}
    assert report["superseded_rows"] == 1
    assert sum(sum(c.values()) for c in report["per_bucket"].values()) == 8
    shown = run.reconcile_json("--show-pins")["drift"]["pins"]
    assert shown == {
        "missing": sorted(tampered["deleted"]),
        "extra": sorted(tampered["added"]),
        "changed": sorted(tampered["changed"]),
        "version_ahead": sorted(tampered["ahead"]),
    }

    repaired = run.reconcile_json("--repair")
    assert repaired["returncode"] == 0, repaired
    assert repaired["repair"] == {"re_emitted": 6, "written": 6, "deleted": 2, "kept_newer": 0}
    assert repaired["after_repair"]["in_sync"]
    after = run.reconcile()
    assert after.returncode == 0, after.stdout + after.stderr

    # The repair re-emitted the expected projections (the compacted topic carries them).
    topics = Topics.from_settings(bus_ready)
    decoder = Decoder(
        registry_client(bus_ready.endpoints.registry_url),
        topics.sector_topic(sector),
        SectorProjection,
    )
    projections = [
        cast(SectorProjection, decoder.decode(m.value()))
        for m in read_all(bus_ready.endpoints.bootstrap_servers, topics.sector_topic(sector))
    ]
    emitted = {p.pin: p.version for p in projections}
    repaired_pins = {*tampered["deleted"], *tampered["changed"], *tampered["ahead"]}
    assert emitted == {pin: versions[pin] for pin in repaired_pins}
    rows = _versions(engine, sector_citizens)
    assert {p: rows.get(p) for p in repaired_pins | set(tampered["added"])} == {
        **{pin: versions[pin] for pin in repaired_pins},
        **dict.fromkeys(tampered["added"]),
    }
    engine.dispose()


class _Commands:
    """`databus backfill` and `databus reconcile` for one sector database."""

    def __init__(self, settings: Settings, sector: str, url: str, npd_url: str) -> None:
        self.env = {**worker_env(settings), "DATABUS_NPD_DATABASE_URL": npd_url}
        self.sector = sector
        self.url = url

    def run(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                command,
                self.sector,
                "--database-url",
                self.url,
                *args,
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def json(self, command: str, *args: str) -> dict[str, Any]:
        out = self.run(command, *args, "--json")
        assert out.returncode == 0, out.stdout + out.stderr
        result: dict[str, Any] = json.loads(out.stdout)
        return result

    def reconcile(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("reconcile", *args)

    def reconcile_json(self, *args: str) -> dict[str, Any]:
        out = self.run("reconcile", *args, "--json")
        assert out.returncode in (0, 1), out.stdout + out.stderr
        result: dict[str, Any] = json.loads(out.stdout)
        result["returncode"] = out.returncode
        return result


def _versions(engine: Engine, table: sa.Table) -> dict[str, int]:
    """PIN -> version of a `citizens` or `sector_citizens` table."""
    with engine.connect() as conn:
        return {r.pin: int(r.version) for r in conn.execute(select(table.c.pin, table.c.version))}


def _domain(event_type: str) -> EventDomain:
    cls = EVENT_CLASSES[event_type]
    return next(d for d in EVENT_DOMAINS.values() if cls in d.events)


def _add_superseded_row(npd: Engine, sector: Engine) -> str:
    """Link an old PIN to a citizen in the population database; give the sector its row."""
    old = make_pin("001", date(1990, 1, 1), "MALE", 999_001)
    with sector.begin() as conn:
        row = conn.execute(select(sector_citizens).limit(1)).one()
        conn.execute(sa.insert(sector_citizens).values({**row._asdict(), "pin": old}))
    with npd.begin() as conn:
        conn.execute(
            sa.insert(pin_links).values(
                old_pin=old, new_pin=row.pin, event_id="", linked_at=row.updated_at
            )
        )
    return old


def _tamper(engine: Engine, superseded: str) -> dict[str, list[str]]:
    """Change, delete and add rows directly in the sector database."""
    table = sector_citizens
    with engine.begin() as conn:
        living = conn.execute(
            select(table)
            .where(
                table.c.deceased.is_(False),
                table.c.record.is_not(None),
                table.c.pin != superseded,
            )
            .order_by(table.c.pin)
            .limit(20)
        ).all()
        renamed, flagged, ahead, deleted = living[0:2], living[2], living[3], living[4:6]
        for row in renamed:  # a value changed, the version kept
            record = json.loads(row.record)
            record["family_name"] = "Khổng"
            conn.execute(
                table.update()
                .where(table.c.pin == row.pin)
                .values(record=json.dumps(record, ensure_ascii=False, sort_keys=True))
            )
        conn.execute(table.update().where(table.c.pin == flagged.pin).values(deceased=True))
        conn.execute(
            table.update().where(table.c.pin == ahead.pin).values(version=ahead.version + 50)
        )
        conn.execute(table.delete().where(table.c.pin.in_([r.pin for r in deleted])))
        added = [make_pin("079", date(1985, 5, 5), "FEMALE", 990_000 + i) for i in range(2)]
        for pin in added:
            conn.execute(
                sa.insert(table).values({**living[10]._asdict(), "pin": pin, "version": 1})
            )
    changed = [r.pin for r in renamed] + [flagged.pin]
    return {
        "changed": changed,
        "ahead": [ahead.pin],
        "deleted": [r.pin for r in deleted],
        "added": added,
        "all": [*changed, ahead.pin, *(r.pin for r in deleted), *added],
    }
