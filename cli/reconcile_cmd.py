"""`databus reconcile SECTOR [--repair]`: find (and repair) drift between a sector database and
the population database (details: `consumers/reconcile/`, docs/sectors.md).

Exit codes: 0 in sync (after the repair, with `--repair`), 1 drift remains, 2 usage error,
3 failure (a database, Kafka or the registry could not be used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from cli.output import console, emit_json, fail
from cli.sector_args import sector_databases, sector_urls
from databus.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

DRIFT_EXIT = 1
FAILURE_EXIT = 3
SHOWN_BUCKETS = 16


@click.command()
@sector_databases
@click.option(
    "--repair",
    is_flag=True,
    help="Re-emit and write the expected rows of drifted PINs, delete extra rows, check again.",
)
@click.option(
    "--buckets",
    type=click.IntRange(1, 65_536),
    default=256,
    show_default=True,
    help="Buckets of PINs compared by digest before rows are.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--show-pins",
    is_flag=True,
    help="With --json: list the drifted PINs (personal data; never in the human report).",
)
@click.pass_obj
def reconcile(
    settings: Settings,
    sector: str,
    database_url: str | None,
    database_url_env: str | None,
    npd_database_url: str | None,
    npd_database_url_env: str | None,
    repair: bool,
    buckets: int,
    as_json: bool,
    show_pins: bool,
) -> None:
    """Compare SECTOR's database with the projection of every citizen of the population database.

    Bucketed digests first, then rows in the buckets that differ; reports rows missing, extra
    and changed, the fields that differ and the buckets, never a personal value. Exit 0 only
    when no drift remains.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from consumers.reconcile.repair import RepairError
    from databus.serde import SchemaNotRegisteredError
    from databus.settings import EndpointsMissingError
    from databus.topology.loader import load_topology
    from schemas.domain import ContractError

    if show_pins and not as_json:
        fail("--show-pins only goes with --json (the human report never lists PINs)", 2)
    topology = load_topology(settings.topology)
    url, npd_url = sector_urls(
        topology, sector, database_url, database_url_env, npd_database_url, npd_database_url_env
    )
    try:
        engine = create_engine(url, pool_pre_ping=True)
        npd = create_engine(npd_url)
    except (ArgumentError, ImportError) as exc:
        fail(f"invalid database URL ({type(exc).__name__})", 2)
    try:
        out = _run(settings, sector, engine, npd, buckets, repair, show_pins)
    except (EndpointsMissingError, RepairError, SchemaNotRegisteredError) as exc:
        fail(str(exc), FAILURE_EXIT)
    except ContractError as exc:
        fail(
            f"a citizen of the population database is no valid {sector} projection: {exc}",
            FAILURE_EXIT,
        )
    except SQLAlchemyError as exc:  # the message may quote values: name the error only
        fail(f"database error ({type(exc).__name__})", FAILURE_EXIT)
    finally:
        engine.dispose()
        npd.dispose()
    if as_json:
        emit_json(out)
    else:
        _print_human(sector, out)
    if not out["ok"]:
        raise SystemExit(DRIFT_EXIT)


def _run(
    settings: Settings,
    sector: str,
    engine: Engine,
    npd: Engine,
    buckets: int,
    repair: bool,
    show_pins: bool,
) -> dict[str, Any]:
    """Check; with `repair`, repair and check again. The report, `ok` when no drift remains."""
    from consumers.reconcile.check import Reconciler
    from consumers.reconcile.repair import Repairer
    from databus.topology.loader import load_topology
    from databus.topology.topics import Topics

    topology = load_topology(settings.topology)
    reconciler = Reconciler(sector, topology.sectors[sector], engine, npd, buckets=buckets)
    drift = reconciler.check()
    out: dict[str, Any] = {"sector": sector, "drift": drift.as_dict(show_pins=show_pins)}
    if repair and not drift.clean:
        topics = Topics.from_settings(settings, topology)
        repairer = Repairer(settings, sector, topology.sectors[sector], engine, npd, topics)
        out["repair"] = repairer.repair(drift).as_dict()
        drift = reconciler.check()
        out["after_repair"] = drift.as_dict(show_pins=show_pins)
    out["ok"] = drift.clean
    return out


def _print_human(sector: str, out: dict[str, Any]) -> None:
    _print_report(sector, out["drift"], "drift")
    if "repair" in out:
        r = out["repair"]
        console.print(
            f"repair: {r['re_emitted']:,} projections re-emitted, {r['written']:,} rows "
            f"written, {r['deleted']:,} extra rows deleted, {r['kept_newer']:,} rows kept "
            "(a newer release arrived meanwhile)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        _print_report(sector, out["after_repair"], "after the repair")


def _print_report(sector: str, report: dict[str, Any], title: str) -> None:
    differing = report["differing_buckets"]
    superseded = report["superseded_rows"]
    console.print(
        f"[bold]{sector}[/] ({title}): {report['expected_rows']:,} rows expected, "
        f"{report['sector_rows']:,} in the sector database"
        + (f" (+{superseded:,} of re-established PINs)" if superseded else "")
        + f"; {len(differing)} of {report['buckets']} buckets differ "
        f"({report['seconds']:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )
    if report["in_sync"]:
        console.print("[green]in sync[/]")
        return
    kinds = Table("drift", "rows", title="rows")
    for kind in ("missing", "extra", "changed", "version_ahead"):
        kinds.add_row(kind.replace("_", " "), f"{report[kind]:,}")
    console.print(kinds)
    if report["fields"]:
        fields = Table("field", "rows", title="changed rows per field")
        for name, rows in report["fields"].items():
            fields.add_row(name, f"{rows:,}")
        console.print(fields)
    per_bucket = Table("bucket", "missing", "extra", "changed", "version ahead", title="buckets")
    shown = list(report["per_bucket"].items())
    for bucket, counts in shown[:SHOWN_BUCKETS]:
        per_bucket.add_row(
            bucket,
            *(str(counts.get(k, 0)) for k in ("missing", "extra", "changed", "version_ahead")),
        )
    if len(shown) > SHOWN_BUCKETS:
        per_bucket.caption = f"and {len(shown) - SHOWN_BUCKETS} more buckets (see --json)"
    console.print(per_bucket)
    console.print(
        "[red]drift[/]: run `databus reconcile "
        f"{sector} --repair` to re-emit and write the expected rows"
    )
