"""`databus backfill SECTOR`: fill a sector database from the population database, then hand
over to the sector's sink (details: `consumers/backfill/replay.py`, docs/sectors.md).

Exit codes: 0 loaded and handed over, 1 failure (run it again: it resumes), 2 usage error.
"""

from __future__ import annotations

import click

from cli.output import console, emit_json, err_console, fail
from cli.sector_args import sector_databases, sector_urls
from databus.settings import Settings


@click.command()
@sector_databases
@click.option("--group", help="Consumer group of the sector's sink (default: sink-SECTOR).")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="Citizens per transaction (and per checkpoint).",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    help="Processes projecting batches (default: the CPUs, at most 4; 0: in this process).",
)
@click.option("--restart", is_flag=True, help="Start over instead of resuming an unfinished run.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def backfill(
    settings: Settings,
    sector: str,
    database_url: str | None,
    database_url_env: str | None,
    npd_database_url: str | None,
    npd_database_url_env: str | None,
    group: str | None,
    batch_size: int,
    workers: int | None,
    restart: bool,
    as_json: bool,
) -> None:
    """Fill SECTOR's database with every citizen's projection, then hand over to its sink.

    Reads the population database's citizens (PIN, version, record) in one snapshot, projects
    each like the router, upserts in bulk with the sink's version guard, and records a
    data-usage entry per citizen. The sector topic's end offsets are recorded before the
    snapshot and committed for the sink's group after the last batch, so a sink started
    afterwards continues with no gap. Stop the sink first; a killed run resumes where it
    stopped.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from consumers.backfill.handover import HandoverError
    from consumers.backfill.replay import DEFAULT_WORKERS, Backfill, BackfillError
    from databus.serde import SchemaNotRegisteredError
    from databus.settings import EndpointsMissingError
    from databus.topology.loader import load_topology
    from schemas.domain import ContractError

    topology = load_topology(settings.topology)
    url, npd_url = sector_urls(
        topology, sector, database_url, database_url_env, npd_database_url, npd_database_url_env
    )
    try:
        job = Backfill(
            settings,
            sector,
            url,
            npd_url,
            group=group,
            batch_size=batch_size,
            workers=DEFAULT_WORKERS if workers is None else workers,
            restart=restart,
        )
    except EndpointsMissingError as exc:
        fail(str(exc))
    except (ArgumentError, ImportError) as exc:
        fail(f"invalid database URL ({type(exc).__name__})", 2)

    class Bar:
        def __init__(self, progress: Progress) -> None:
            self.progress = progress
            self.task: TaskID | None = None

        def start(self, total: int) -> None:
            self.task = self.progress.add_task(f"backfill {sector}", total=total)

        def advance(self, rows: int) -> None:
            if self.task is not None:
                self.progress.advance(self.task, rows)

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err_console, disable=not err_console.is_terminal) as bar:
            result = job.run(Bar(bar))
    except (HandoverError, BackfillError, SchemaNotRegisteredError) as exc:
        fail(str(exc))
    except ContractError as exc:
        fail(f"a citizen of the population database is no valid {sector} projection: {exc}")
    except SQLAlchemyError as exc:  # the message may quote values: name the error only
        fail(f"database error ({type(exc).__name__}); run the backfill again to resume")
    finally:
        job.close()
    if as_json:
        emit_json({"ok": True, **result.as_dict()})
        return
    offsets = " ".join(f"{p}:{o}" for p, o in sorted(result.offsets.items()))
    rate = f"{result.rows / result.seconds:,.0f}" if result.seconds else "-"
    console.print(
        f"backfill {sector}: {result.rows:,} citizens written in {result.seconds:.1f} s "
        f"({rate} rows/s){', resumed' if result.resumed else ''}; "
        f"{result.total_rows:,} rows in all",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"handed over: group {result.group} continues {result.topic} at offsets {offsets}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
