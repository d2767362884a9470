"""Create (and, for tests, drop) the outbox table from the DDL shipped per dialect.

The `.sql` files in `databus/outbox/ddl/` are the contract a ministry's DBA reviews and may
run by hand; `create_outbox` runs the same text, so there is one definition per database.
"""

from __future__ import annotations

from importlib.resources import files

from sqlalchemy import Engine

from databus.ddl_lock import schema_transaction
from databus.outbox.table import DEFAULT_TABLE, check_table_name

_FILES = {"postgresql": "postgresql", "mysql": "mariadb", "mariadb": "mariadb", "sqlite": "sqlite"}


def ddl_file(dialect: str) -> str:
    """Name of the shipped DDL file for a SQLAlchemy dialect name (ValueError if none)."""
    try:
        return f"{_FILES[dialect]}.sql"
    except KeyError:
        raise ValueError(
            f"no outbox DDL for the {dialect!r} dialect (PostgreSQL, MariaDB and SQLite are "
            "supported)"
        ) from None


def ddl_text(dialect: str, table: str = DEFAULT_TABLE) -> str:
    """The shipped DDL for `dialect` with the table name filled in."""
    name = check_table_name(table)
    text = files("databus.outbox").joinpath("ddl", ddl_file(dialect)).read_text("utf-8")
    return text.replace("{table}", name)


def ddl_statements(dialect: str, table: str = DEFAULT_TABLE) -> list[str]:
    """The DDL's statements, comments removed, in order."""
    lines = []
    for line in ddl_text(dialect, table).splitlines():
        code = line.split("--", 1)[0].rstrip() if "--" in line else line.rstrip()
        if code:
            lines.append(code)
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def create_outbox(engine: Engine, table: str = DEFAULT_TABLE) -> None:
    """Create the outbox table and its index if missing (idempotent, in one transaction; safe
    when several workers start at once)."""
    statements = ddl_statements(engine.dialect.name, table)
    with schema_transaction(engine) as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def drop_outbox(engine: Engine, table: str = DEFAULT_TABLE) -> None:
    """Drop the outbox table (and its index) if it exists."""
    name = check_table_name(table)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
