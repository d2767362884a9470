"""A population database whose tables have earlier layouts is brought to the present ones when
the schema is created, on PostgreSQL and SQLite:

- a lineage of one row per field becomes rows of a `fields` list, and the sync then writes to it;
- facts of one row per field become rows of `[field, value]` pairs (one row per citizen and
  event); the sync's reads find the old facts, and its switches reach them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from databus.population.schema import (
    create_population_schema,
    facts_of,
    field_facts,
    lineage,
    migrate_facts,
    migrate_lineage,
)
from streams.population.store import BatchStore

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


PIN = "001190000777"
ADDRESS = {"street": "12 Tran Phu", "ward": "Phuc Xa", "province": "01"}

OLD_FACTS_LAYOUT = sa.MetaData()
OLD_FACTS = sa.Table(  # the layout until 2026-12-07
    "field_facts",
    OLD_FACTS_LAYOUT,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pin", sa.String(12), nullable=False),
    sa.Column("field", sa.String(40), nullable=False),
    sa.Column("value", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Index("ix_field_facts_pin_field", "pin", "field"),
    sa.Index("ix_field_facts_event", "event_id"),
)


def _old(field: str, value: object, event_id: str, active: bool = True) -> dict[str, object]:
    return {
        "pin": PIN,
        "field": field,
        "value": value,
        "event_id": event_id,
        "occurred_at": AT,
        "active": active,
    }


def test_old_facts_become_one_fact_rows_that_the_sync_reads_and_switches(url: str) -> None:
    engine = sa.create_engine(url)
    OLD_FACTS_LAYOUT.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(OLD_FACTS),
            [
                _old("family_name", "Nguyen", "birth"),
                _old("given_name", "An", "birth"),
                _old("permanent_residence", ADDRESS, "move"),
                _old("household_id", None, "move"),
                _old("temporary_residence", ADDRESS, "annulled", active=False),
            ],
        )
    create_population_schema(engine)
    create_population_schema(engine)  # idempotent: nothing left to migrate
    with engine.begin() as conn:
        assert not migrate_facts(conn)
        columns = {c["name"] for c in sa.inspect(conn).get_columns("field_facts")}
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("field_facts")}
        rows = conn.execute(sa.select(field_facts).order_by(field_facts.c.id)).all()
        assert [facts_of(r.facts, r.fields_off, r.active) for r in rows] == [
            [("family_name", "Nguyen", True)],
            [("given_name", "An", True)],
            [("permanent_residence", ADDRESS, True)],
            [("household_id", None, True)],
            [("temporary_residence", ADDRESS, False)],
        ]
        store = BatchStore(conn, AT)
        stored = store.stored_active_facts([PIN], ["given_name", "household_id"])
        assert [(f.field, f.value, f.event_id) for f in stored] == [
            ("given_name", "An", "birth"),
            ("household_id", None, "move"),
        ]
        # a correction of another type switches one field of the move off, an annulment the
        # whole birth: the same writes as on rows of the new layout
        store.switched_fields = {("move", "household_id")}
        store.switched_off = {"birth"}
        store.write(_NoOutbox())
        left = [(f.field, f.event_id) for f in store.stored_active_facts([PIN])]
    engine.dispose()
    assert {"field", "value"}.isdisjoint(columns) and {"facts", "fields_off"} <= columns
    assert "ix_field_facts_pin" in indexes and "ix_field_facts_pin_field" not in indexes
    assert left == [("permanent_residence", "move")]


class _NoOutbox:
    def write(self, conn: sa.Connection, changes: object) -> None:
        raise AssertionError("no change was made")
