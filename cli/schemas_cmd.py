"""`databus schemas register|check`: the repository's contracts in the registry."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from cli.output import console, emit_json, fail
from databus.settings import Settings
from schemas.avro_files import AVRO_DIR

DEFAULT_DIR = AVRO_DIR


@click.group()
def schemas() -> None:
    """Publish the Avro contracts and check changes against the registry."""


@schemas.command()
@click.option(
    "--schemas-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=DEFAULT_DIR,
    show_default=True,
    help="Directory of the .avsc files.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def register(settings: Settings, schemas_dir: Path, as_json: bool) -> None:
    """Register the schema of every topic under `<topic>-value` (idempotent)."""
    from databus.contracts import bindings
    from databus.schema_admin import IncompatibleSchemaError, RegistryAdmin, register_all
    from databus.topology.topics import Topics

    admin = RegistryAdmin(settings.endpoints.registry_url)
    try:
        results = register_all(admin, bindings(Topics.from_settings(settings)), schemas_dir)
    except IncompatibleSchemaError as exc:
        fail(str(exc))
    if as_json:
        emit_json([r.__dict__ for r in results])
        return
    table = Table("subject", "schema", "id", "version", "change")
    for r in results:
        table.add_row(
            r.subject,
            r.schema_name,
            str(r.schema_id),
            str(r.version),
            "[green]registered[/]" if r.new_version else "unchanged",
        )
    console.print(table)


@schemas.command()
@click.option(
    "--schemas-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=DEFAULT_DIR,
    show_default=True,
    help="Directory of the .avsc files.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def check(settings: Settings, schemas_dir: Path, as_json: bool) -> None:
    """Compare the working tree with the registry; exit 1 on an incompatible change."""
    from databus.contracts import bindings
    from databus.schema_admin import RegistryAdmin, check_all
    from databus.topology.topics import Topics

    admin = RegistryAdmin(settings.endpoints.registry_url)
    results = check_all(admin, bindings(Topics.from_settings(settings)), schemas_dir)
    if as_json:
        emit_json([{**r.__dict__, "ok": r.ok} for r in results])
    else:
        table = Table("subject", "schema", "status", "problems")
        for r in results:
            colour = "green" if r.ok else "red"
            table.add_row(
                r.subject, r.schema_name, f"[{colour}]{r.status}[/]", "\n".join(r.problems)
            )
        console.print(table)
    if not all(r.ok for r in results):
        raise SystemExit(1)
