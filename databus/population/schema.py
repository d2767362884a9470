"""The National Population Database schema (PostgreSQL in production, SQLite embedded).

- `citizens`: the golden record, one row per current PIN: version, the Citizen in its JSON form,
  and for each field the real-world time (`occurred_at`) of the value it holds.
- `field_facts`: every value any accepted event gave any field, with its event and time, and
  whether it still counts (a correction or an annulment switches facts off). A field's current
  value is its active fact with the newest `occurred_at`; this is what makes late events,
  corrections and annulments exact. One row per citizen and event: `facts` holds the event's
  `[field, value]` pairs for that citizen, `active` whether any of them still counts, and
  `fields_off` the fields whose facts stopped counting while others of the row still count (a
  correction of another type carries only some of them). `facts_of` reads a row back.
- `applied_events`: event ids already applied (duplicates are skipped).
- `lineage`: which event set which fields of which citizen version, when, from which agency:
  one row per citizen, version, event and action (`fields`: the sorted list of field names).
- `pin_links`: re-established PINs, old → new, so later events for an old PIN reach the citizen.
- `parked_events`: events that arrived before their citizen existed (another topic's birth not
  yet applied); applied as soon as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from databus.ddl_lock import schema_transaction

metadata = MetaData()
Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

citizens = Table(
    "citizens",
    metadata,
    Column("pin", String(12), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("record", Json, nullable=False),
    Column("field_times", Json, nullable=False),
    Column("deceased", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

field_facts = Table(
    "field_facts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pin", String(12), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("facts", Json, nullable=False),
    Column("fields_off", Json),
    Column("active", Boolean, nullable=False, default=True),
    Index("ix_field_facts_pin", "pin"),
    Index("ix_field_facts_event", "event_id"),
)


def facts_of(
    facts: list[list[Any]], fields_off: list[str] | None, active: bool
) -> list[tuple[str, Any, bool]]:
    """The facts a `field_facts` row holds (its `facts`, `fields_off` and `active`), in the
    order the event gave them: (field, value, whether it still counts)."""
    off = fields_off or ()
    return [(field, value, bool(active) and field not in off) for field, value in facts]


applied_events = Table(
    "applied_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("pin", String(12), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("change_type", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("version", BigInteger),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Index("ix_applied_events_pin", "pin"),
)

lineage = Table(
    "lineage",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pin", String(12), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("fields", Json, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Index("ix_lineage_pin_version", "pin", "version"),
)

pin_links = Table(
    "pin_links",
    metadata,
    Column("old_pin", String(12), primary_key=True),
    Column("new_pin", String(12), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
)

parked_events = Table(
    "parked_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("pin", String(12), nullable=False),
    Column("domain", String(32), nullable=False),
    Column("event", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    Index("ix_parked_events_pin", "pin"),
)


def create_population_schema(engine: Engine) -> None:
    """Create the tables and indexes that are missing, and bring lineage and fact tables of
    the earlier layouts to this one (idempotent; safe when several workers start at once)."""
    with schema_transaction(engine) as conn:
        metadata.create_all(conn)
        migrate_lineage(conn)
        migrate_facts(conn)


_LINEAGE_MIGRATION = {
    "postgresql": (
        "ALTER TABLE lineage ADD COLUMN fields JSONB",
        "UPDATE lineage SET fields = jsonb_build_array(field)",
        "ALTER TABLE lineage ALTER COLUMN fields SET NOT NULL",
        "ALTER TABLE lineage DROP COLUMN field",
    ),
    "sqlite": (
        "ALTER TABLE lineage ADD COLUMN fields JSON NOT NULL DEFAULT '[]'",
        "UPDATE lineage SET fields = json_array(field)",
        "ALTER TABLE lineage DROP COLUMN field",
    ),
}
"""From one lineage row per field (`field`, before 2026-12-07) to the `fields` list: each old
row becomes a row of one field, as it was; new rows group an event's fields."""


def migrate_lineage(conn: Connection) -> bool:
    """Bring a lineage table of the one-row-per-field layout to this one, in the caller's
    transaction; whether there was one."""
    return _migrate(
        conn,
        "lineage",
        ("field", "fields"),
        _LINEAGE_MIGRATION,
        "move its `field` into a `fields` JSON list by hand",
    )


def _migrate(
    conn: Connection,
    table: str,
    columns: tuple[str, str],
    statements: dict[str, tuple[str, ...]],
    by_hand: str,
) -> bool:
    """Run the statements of this database on `table` if it has the old column and not yet
    the new one (`columns`: old, new); whether it did. Refuses, naming the table and what to
    do `by_hand`, on a database it has no statements for."""
    found = {column["name"] for column in inspect(conn).get_columns(table)}
    old, new = columns
    if old not in found or new in found:
        return False
    mine = statements.get(conn.dialect.name)
    if mine is None:
        raise RuntimeError(
            f"the {table} table has the one-row-per-field layout and {conn.dialect.name} has "
            f"no migration here: {by_hand}"
        )
    for statement in mine:
        conn.execute(text(statement))
    return True


_FACTS_MIGRATION = {
    "postgresql": (
        "DROP INDEX IF EXISTS ix_field_facts_pin_field",
        "ALTER TABLE field_facts ADD COLUMN facts JSONB",
        "UPDATE field_facts SET facts = jsonb_build_array(jsonb_build_array(field, value))",
        "ALTER TABLE field_facts ALTER COLUMN facts SET NOT NULL",
        "ALTER TABLE field_facts ADD COLUMN fields_off JSONB",
        "ALTER TABLE field_facts DROP COLUMN field",
        "ALTER TABLE field_facts DROP COLUMN value",
        "CREATE INDEX ix_field_facts_pin ON field_facts (pin)",
    ),
    "sqlite": (
        "DROP INDEX IF EXISTS ix_field_facts_pin_field",
        "ALTER TABLE field_facts ADD COLUMN facts JSON NOT NULL DEFAULT '[]'",
        "UPDATE field_facts SET facts = json_array(json_array(field, json(value)))",
        "ALTER TABLE field_facts ADD COLUMN fields_off JSON",
        "ALTER TABLE field_facts DROP COLUMN field",
        "ALTER TABLE field_facts DROP COLUMN value",
        "CREATE INDEX ix_field_facts_pin ON field_facts (pin)",
    ),
}
"""From one fact row per field (`field`, `value`, until 2026-12-07) to one row per citizen
and event (`facts`): each old row becomes a row of one fact, as it was (its `active` kept);
new rows group an event's facts."""


def migrate_facts(conn: Connection) -> bool:
    """Bring a `field_facts` table of the one-row-per-field layout to this one, in the caller's
    transaction; whether there was one."""
    return _migrate(
        conn,
        "field_facts",
        ("field", "facts"),
        _FACTS_MIGRATION,
        "move each row's `field` and `value` into a `facts` JSON list of one [field, value] "
        "pair by hand",
    )
