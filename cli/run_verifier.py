"""`databus run verifier`: answer the sectors' verification requests from the population DB."""

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


@click.command("verifier")
@click.option("--database-url", help="SQLAlchemy URL of the population database.")
@click.option(
    "--database-url-env",
    default=DEFAULT_URL_ENV,
    show_default=True,
    help="Environment variable holding the URL (used when --database-url is not given).",
)
@click.option(
    "--sector",
    "sectors",
    multiple=True,
    help="Answer only this sector's requests (repeatable; default: every sector that verifies).",
)
@click.option(
    "--group", default="verifier", show_default=True, help="Consumer group (and faust app id)."
)
@click.option("--batch-size", default=1000, show_default=True, help="Requests per batch.")
@linger_option
@metrics_port_option
@log_level_option
@click.pass_obj
def verifier(
    settings: Settings,
    database_url: str | None,
    database_url_env: str,
    sectors: tuple[str, ...],
    group: str,
    batch_size: int,
    linger: float,
    metrics_port: int,
    log_level: str,
) -> None:
    """Check sectors' claims against the population database; answer verdicts, never values."""
    import faust

    from cli.health import serve_health
    from databus.readiness import DatabaseProbe, FaustAssignment
    from databus.runtime import tune_gc
    from databus.topology.loader import load_topology
    from streams.verification.worker import Verifier

    url = database_url or os.environ.get(database_url_env)
    if not url:
        fail(f"no population database: pass --database-url or set {database_url_env}")
    topology = load_topology(settings.topology)
    for name in sectors:
        if name not in topology.sectors:
            fail(f"no sector {name!r} in the topology (sectors: {', '.join(topology.sectors)})", 2)
        if not topology.sector(name).verification.enabled:
            fail(f"sector {name!r} has no verification rights in the topology", 2)
    setup_logging(log_level)
    verifier_ = Verifier(settings, url, group=group, sectors=list(sectors) or None)
    app = verifier_.build_app(batch_size=batch_size, linger=linger)
    serve_health(
        "verifier",
        metrics_port,
        {"assigned": FaustAssignment(app), "database": DatabaseProbe(verifier_.engine).start()},
    )
    worker = faust.Worker(app, loglevel=log_level.replace("warning", "warn"), quiet=True)
    tune_gc()
    worker.execute_from_commandline()
