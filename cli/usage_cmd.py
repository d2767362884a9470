"""`databus usage PIN`: who received this citizen's data, when, which fields, on which basis."""

from __future__ import annotations

import os

import click
from rich.table import Table

from cli.output import console, emit_json, fail
from databus.settings import Settings


@click.command()
@click.argument("pin")
@click.option("--database-url", help="SQLAlchemy URL of the audit store (the population DB).")
@click.option(
    "--database-url-env",
    default="DATABUS_NPD_DATABASE_URL",
    show_default=True,
    help="Environment variable holding the URL (used without --database-url).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def usage(
    settings: Settings, pin: str, database_url: str | None, database_url_env: str, as_json: bool
) -> None:
    """List every release of PIN's data to a sector and every verification of it, newest first."""
    from sqlalchemy import create_engine

    from consumers.usage.store import create_usage_schema, trail

    url = database_url or os.environ.get(database_url_env)
    if not url:
        fail(f"no audit database: pass --database-url or set {database_url_env}")
    engine = create_engine(url)
    create_usage_schema(engine)
    with engine.connect() as conn:
        rows = trail(conn, pin)
    if as_json:
        emit_json(rows)
        return
    table = Table(
        "at",
        "purpose",
        "sector",
        "agency",
        "version",
        "fields",
        "legal basis",
        title="data usage of the citizen (releases and verifications), newest first",
    )
    for r in rows:
        purpose = r["purpose"].lower()
        if r["outcome"]:
            purpose += f": {r['outcome']}"
        table.add_row(
            r["released_at"],
            purpose,
            r["sector"],
            r["agency"],
            str(r["citizen_version"]),
            ", ".join(r["fields"]),
            "\n".join(r["legal_basis"]),
        )
    console.print(
        table if rows else "no release or verification of this citizen's data is recorded"
    )
