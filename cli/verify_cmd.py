"""`databus verify submit|results`: a sector's verification campaign from the command line.

    databus verify submit --sector mobile-subscribers subscribers.csv [--campaign C] [--rejects R]
    databus verify results --sector mobile-subscribers --requests subscribers.csv --out report.csv

Exit codes: 0 full success; 1 something was not sent, delivered or answered; 2 usage error
(unknown sector, or a sector without verification rights: nothing is sent).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cli.output import console, emit_json, fail
from databus.settings import Settings

SHOWN = 20
CAMPAIGN_HELP = (
    "Campaign name: request ids are derived from (sector, campaign, record id), so the same "
    "campaign submitted again is answered once (default: the file's name without suffix)."
)


@click.group()
def verify() -> None:
    """Check a sector's records against the population database (verdicts, never values)."""


@verify.command()
@click.option("--sector", required=True, help="Requesting sector (topology name).")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--campaign", help=CAMPAIGN_HELP)
@click.option(
    "--rejects",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the lines that could not be read here, unchanged (CSV: with the header).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.pass_obj
def submit(
    settings: Settings,
    sector: str,
    file: Path,
    campaign: str | None,
    rejects: Path | None,
    as_json: bool,
) -> None:
    """Send a CSV or JSON Lines file of records as verification requests.

    Columns/keys: record_id, pin, and any of family_name, middle_name, given_name,
    date_of_birth, sex, identity_card_number (request_id optional).
    """
    from producers.verification import VerificationClient, VerificationRefusedError
    from producers.verification.submit import count_records, submit_file

    try:
        client = VerificationClient(sector, settings=settings, campaign=campaign or file.stem)
    except VerificationRefusedError as exc:
        fail(str(exc), 2)
    total = count_records(file)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("[progress.data.speed]{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=as_json) as bar:
        task = bar.add_task(f"submitting {file.name}", total=total, rate="")

        def progress(done: int) -> None:
            bar.update(task, completed=min(done, total))
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:,.0f} records/s" if speed else "")

        report = submit_file(file, client, rejects=rejects, progress=progress)
    if as_json:
        emit_json({"sector": sector, "campaign": client.campaign, **report.as_dict()})
    else:
        problems = [(r.line, i) for r in report.rejected for i in r.issues]
        if problems:
            table = Table("line", "field", "rule", "reason", title="lines not sent")
            for line, issue in problems[:SHOWN]:
                table.add_row(str(line), issue.field, issue.rule, issue.message)
            console.print(table)
            if len(problems) > SHOWN:
                console.print(f"... and {len(problems) - SHOWN} more (use --json for all)")
        rate = report.sent / report.seconds if report.seconds else 0.0
        console.print(
            f"{report.lines} lines: {report.sent} requests sent, {report.delivered} delivered, "
            f"{len(report.rejected)} unreadable, {report.failed} failed "
            f"({rate:,.0f} requests/s; campaign {client.campaign})"
            + (f"; unreadable lines written to {rejects}" if rejects and report.rejected else ""),
            markup=False,
            highlight=False,
        )
    if not report.ok:
        raise SystemExit(1)


@verify.command()
@click.option("--sector", required=True, help="Requesting sector (topology name).")
@click.option(
    "--requests",
    "requests_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The file that was submitted.",
)
@click.option("--campaign", help=CAMPAIGN_HELP)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Write the per-record report (CSV) here.",
)
@click.option(
    "--wait",
    default=60.0,
    show_default=True,
    help="Seconds to wait for every request to be answered.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@click.pass_obj
def results(
    settings: Settings,
    sector: str,
    requests_file: Path,
    campaign: str | None,
    out: Path,
    wait: float,
    as_json: bool,
) -> None:
    """Join the results to the submitted records; print counts and the records to act on."""
    from cli.verify_report import collect_results, join, submitted_records, write_csv
    from databus.topology.loader import load_topology

    topology = load_topology(settings.topology)
    if sector not in topology.sectors or not topology.sector(sector).verification.enabled:
        fail(f"sector {sector!r} has no verification rights in the topology", 2)
    records, unreadable = submitted_records(requests_file, sector, campaign or requests_file.stem)
    found, repeats = collect_results(settings, sector, {r.request_id for r in records}, wait=wait)
    report = join(records, found, unreadable, repeats)
    write_csv(report, out)
    if as_json:
        emit_json({"sector": sector, "report": str(out), **report.summary()})
    else:
        _print_summary(report, out)
    if report.unanswered:
        raise SystemExit(1)


def _print_summary(report: object, out: Path) -> None:
    from cli.verify_report import ACTIONS, CampaignReport

    assert isinstance(report, CampaignReport)
    summary = report.summary()
    statuses = Table("status", "records", title="verification results")
    for status, count in report.statuses.most_common():
        statuses.add_row(status, f"{count:,}")
    console.print(statuses)
    if report.mismatched_fields or report.diacritics_fields:
        fields = Table("field", "mismatched", "diacritics only", title="per claimed field")
        for name in sorted({*report.mismatched_fields, *report.diacritics_fields}):
            fields.add_row(
                name,
                f"{report.mismatched_fields[name]:,}",
                f"{report.diacritics_fields[name]:,}",
            )
        console.print(fields)
    act = report.to_act
    if act:
        table = Table("record id", "status", "action", title=f"records to act on ({len(act):,})")
        for record, result in act[:SHOWN]:
            table.add_row(record.record_id, result.status.value, ACTIONS[result.status])
        console.print(table)
        if len(act) > SHOWN:
            console.print(f"... and {len(act) - SHOWN:,} more in {out}")
    console.print(
        f"{summary['records']:,} records, {summary['answered']:,} answered, "
        f"{summary['unanswered']:,} unanswered, {len(act):,} to act on; report written to {out}",
        markup=False,
        highlight=False,
    )
