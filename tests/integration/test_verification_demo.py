"""The demo's verification step on an embedded (SQLite) population database."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert

from cli.demo.verification import show_verification
from databus.population.schema import citizens, create_population_schema
from databus.settings import Settings
from tests.verification_harness import generated_citizens


def test_demo_campaign_on_sqlite(bus_ready: Settings, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'npd.sqlite'}")
    create_population_schema(engine)
    now = datetime.now(UTC)
    people = generated_citizens(64, tmp_path)
    with engine.begin() as conn:
        conn.execute(
            insert(citizens),
            [
                {
                    "pin": c["pin"],
                    "version": 1,
                    "record": c,
                    "field_times": {},
                    "deceased": i % 20 == 0,
                    "updated_at": now,
                }
                for i, c in enumerate(people)
            ],
        )
    engine.dispose()
    assert show_verification(bus_ready, tmp_path)
    with (tmp_path / "verification" / "report.csv").open(encoding="utf-8") as handle:
        statuses = {row["status"] for row in csv.DictReader(handle)}
    assert {"MATCHED", "PARTIAL", "MISMATCHED", "NOT_FOUND", "INVALID", "DECEASED"} <= statuses
