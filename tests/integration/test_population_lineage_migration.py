"""A population database whose lineage has the earlier layout (one row per field) is brought to
the grouped one (a `fields` list per row) when the schema is created, on PostgreSQL and SQLite,
and the sync then writes to it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from databus.population.schema import create_population_schema, lineage, migrate_lineage

AT = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)

OLD = sa.MetaData()
OLD_LINEAGE = sa.Table(  # the layout before 2026-12-07
    "lineage",
    OLD,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pin", sa.String(12), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("field", sa.String(40), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_lineage_pin_version", "pin", "version"),
)


def _old_row(field: str, version: int) -> dict[str, object]:
    return {
        "pin": "001190000777",
        "version": version,
        "field": field,
        "event_id": "e1",
        "event_type": "BirthRegistered",
        "source": "VN/GOV/BTP/hotich",
        "action": "set",
        "occurred_at": AT,
        "applied_at": AT,
    }


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'npd.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_an_old_lineage_becomes_one_field_rows_and_takes_grouped_ones(url: str) -> None:
    engine = sa.create_engine(url)
    OLD.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(OLD_LINEAGE), [_old_row("family_name", 1), _old_row("given_name", 1)]
        )
    create_population_schema(engine)
    create_population_schema(engine)  # idempotent: nothing left to migrate
    with engine.begin() as conn:
        assert not migrate_lineage(conn)
        grouped = {k: v for k, v in _old_row("", 2).items() if k != "field"}
        conn.execute(sa.insert(lineage), [grouped | {"fields": ["date_of_death", "deceased"]}])
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("lineage")}
        rows = conn.execute(
            sa.select(lineage.c.version, lineage.c.fields).order_by(lineage.c.id)
        ).all()
    engine.dispose()
    assert "field" not in columns
    assert [tuple(r) for r in rows] == [
        (1, ["family_name"]),
        (1, ["given_name"]),
        (2, ["date_of_death", "deceased"]),
    ]
