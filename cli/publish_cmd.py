"""`databus publish --source AGENCY FILE [--dry-run] [--rejects OUT]`: load a file of events."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cli.output import console, emit_json, fail
from databus.settings import Settings

SHOWN = 50


@click.command()
@click.option(
    "--source",
    "source",
    required=True,
    help="Publishing source: a topology source name or agency id (VN/GOV/BTP/hotich).",
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--dry-run", is_flag=True, help="Validate every line; send nothing.")
@click.option(
    "--rejects",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the rejected lines here, unchanged (CSV: with the header).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.pass_obj
def publish(
    settings: Settings, source: str, file: Path, dry_run: bool, rejects: Path | None, as_json: bool
) -> None:
    """Validate and publish a JSON Lines or CSV file of events for one source.

    Exit 0 only when every line was valid and delivered.
    """
    from databus.topology.loader import load_topology
    from databus.topology.topics import Topics
    from producers.loader.load import load_file
    from producers.sdk import Publisher, SourceGate

    topology = load_topology(settings.topology)
    try:
        gate = SourceGate(Topics.from_settings(settings, topology), source)
    except KeyError as exc:
        fail(str(exc.args[0]))
    publisher = (
        None if dry_run else Publisher(gate.source_name, settings=settings, topology=topology)
    )
    size = file.stat().st_size
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, disable=as_json, transient=False) as bar:
            task = bar.add_task(
                f"{'checking' if dry_run else 'publishing'} {file.name}", total=size
            )
            report = load_file(
                file,
                gate,
                publisher,
                rejects=rejects,
                progress=lambda done: bar.update(task, completed=min(done, size)),
            )
    finally:
        if publisher is not None:
            publisher.close()
    if as_json:
        emit_json(report.as_dict())
    else:
        _print(report, rejects)
    if not report.ok:
        raise SystemExit(1)


def _print(report: object, rejects: Path | None) -> None:
    from producers.loader.load import LoadReport

    assert isinstance(report, LoadReport)
    problems = [(r.line, i) for r in report.rejected + report.undelivered for i in r.issues]
    if problems:
        table = Table("line", "field", "rule", "reason", title="rejected lines")
        for line, issue in problems[:SHOWN]:
            table.add_row(str(line), issue.field, issue.rule, issue.message)
        console.print(table)
        if len(problems) > SHOWN:
            console.print(f"... and {len(problems) - SHOWN} more (use --json for all)")
    sent = "checked (dry run)" if report.dry_run else f"{report.delivered} delivered"
    console.print(
        f"{report.lines} lines: {report.valid} valid, {len(report.rejected)} "
        f"rejected, {sent}"
        + (f"; rejected lines written to {rejects}" if rejects and report.rejected else "")
    )
