"""`databus run population-sync`: the faust worker that keeps the golden record."""

from __future__ import annotations

import os

import click

from cli.output import fail
from cli.run_options import (
    linger_option,
    log_level_option,
    metrics_port_option,
    setup_logging,
)
from databus.settings import Settings

DEFAULT_URL_ENV = "DATABUS_NPD_DATABASE_URL"


@click.command("population-sync")
@click.option("--database-url", help="SQLAlchemy URL of the population database.")
@click.option(
    "--database-url-env",
    default=DEFAULT_URL_ENV,
    show_default=True,
    help="Environment variable holding the URL (used when --database-url is not given).",
)
@click.option(
    "--group",
    default="population-sync",
    show_default=True,
    help="Consumer group (and faust app id).",
)
@click.option("--batch-size", default=500, show_default=True, help="Events per transaction.")
@linger_option
@metrics_port_option
@log_level_option
@click.pass_obj
def population_sync(
    settings: Settings,
    database_url: str | None,
    database_url_env: str,
    group: str,
    batch_size: int,
    linger: float,
    metrics_port: int,
    log_level: str,
) -> None:
    """Apply the source topics to the population database, exactly once in effect."""
    import faust

    from cli.health import serve_health
    from databus.http_service import Check
    from databus.readiness import DatabaseProbe, FaustAssignment
    from databus.runtime import tune_gc
    from streams.population.worker import PopulationSync

    url = database_url or os.environ.get(database_url_env)
    if not url:
        fail(f"no population database: pass --database-url or set {database_url_env}")
    setup_logging(log_level)
    sync = PopulationSync(settings, url, group=group)
    app = sync.build_app(batch_size=batch_size, linger=linger)
    checks: dict[str, Check] = {
        "assigned": FaustAssignment(app),
        "database": DatabaseProbe(sync.engine).start(),
    }
    serve_health("population-sync", metrics_port, checks)
    worker = faust.Worker(app, loglevel=log_level.replace("warning", "warn"), quiet=True)
    tune_gc()
    worker.execute_from_commandline()
