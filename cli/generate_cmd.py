"""`databus generate`: a synthetic population and its life events as JSON Lines.

Exit codes: 0 success, 1 bad arguments or the output could not be written, 2 invalid topology.
Only counts are printed, never a name, PIN or any other personal value.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from cli.output import console, emit_json, fail
from databus.settings import Settings

if TYPE_CHECKING:
    from producers.generator import GenerationReport

TOPOLOGY_EXIT = 2


def _fail(message: str, code: int, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"ok": False, "problems": [message]})
        raise SystemExit(code)
    fail(message, code)


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command()
@click.option(
    "--citizens",
    type=click.IntRange(min=1),
    required=True,
    help="Size of the initial population.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the files to (created if missing; files are replaced).",
)
@click.option("--seed", type=int, default=6, show_default=True, help="Random seed.")
@click.option(
    "--events-per-citizen",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="Mean number of life events per citizen over the period.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2024-01-01",
    show_default=True,
    help="First day of the life-event period.",
)
@click.option(
    "--end",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day of the life-event period.  [default: yesterday, Vietnam time]",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@click.pass_obj
def generate(
    settings: Settings,
    citizens: int,
    out_dir: Path,
    seed: int,
    events_per_citizen: float,
    start: datetime,
    end: datetime | None,
    as_json: bool,
) -> None:
    """Generate a synthetic population and its life events (citizens.jsonl, events.jsonl)."""
    from databus.topology import TopologyError, load_topology
    from producers.generator import GeneratorConfig, GeneratorError
    from producers.generator import generate as run_generator

    try:
        topology = load_topology(settings.topology)
    except TopologyError as exc:
        problems = "; ".join(str(p) for p in exc.problems)
        _fail(f"{exc.source or settings.topology}: {problems}", TOPOLOGY_EXIT, as_json)
    config = GeneratorConfig(
        citizens=citizens,
        out_dir=out_dir,
        seed=seed,
        events_per_citizen=events_per_citizen,
        start=start.date(),
        end=_day(end),
    )
    try:
        if as_json:
            report = run_generator(config, topology)
        else:
            with console.status("Generating population and life events ..."):
                report = run_generator(config, topology)
    except GeneratorError as exc:
        _fail(str(exc), 1, as_json)
    except OSError as exc:
        _fail(f"cannot write to {out_dir}: {exc.strerror or exc}", 1, as_json)
    if as_json:
        emit_json({"ok": True, "out": str(out_dir), "seed": seed, **report.as_dict()})
        return
    _print_summary(report, out_dir, seed)


def _print_summary(report: GenerationReport, out_dir: Path, seed: int) -> None:
    from rich.table import Table

    rate = report.events / report.seconds if report.seconds else 0.0
    console.print(
        f"[bold green]Generated[/] {report.citizens:,} citizens and {report.events:,} events "
        f"({report.initial_events:,} initial history, {report.life_events:,} life events "
        f"from {report.start} to {report.end}) with seed {seed} "
        f"in {report.seconds:.1f} s ({rate:,.0f} events/s)."
    )
    types = Table(title="Events per type", title_justify="left")
    types.add_column("event type")
    types.add_column("events", justify="right")
    for event_type, count in sorted(report.by_type.items(), key=lambda kv: (-kv[1], kv[0])):
        types.add_row(event_type, f"{count:,}")
    console.print(types)
    sources = Table(title="Events per source", title_justify="left")
    sources.add_column("source")
    sources.add_column("agency")
    sources.add_column("events", justify="right")
    for source, count in report.by_source.items():
        sources.add_row(source, report.agencies.get(source, ""), f"{count:,}")
    console.print(sources)
    changes = ", ".join(f"{kind} {count:,}" for kind, count in report.by_change.items())
    console.print(f"Change types: {changes}")
    files = Table(title=f"Files written to {out_dir}", title_justify="left")
    files.add_column("file")
    files.add_column("records", justify="right")
    for name, count in report.files.items():
        files.add_row(name, f"{count:,}")
    console.print(files)
    if report.first_recorded:
        console.print(
            f"recorded_at from {report.first_recorded} to {report.last_recorded}",
            highlight=False,
        )
