"""`databus run router`: release every population change to the sectors that may see it."""

from __future__ import annotations

import click

from cli.run_options import (
    linger_option,
    log_level_option,
    metrics_port_option,
    setup_logging,
)
from databus.settings import Settings


@click.command("router")
@click.option(
    "--group", default="sector-router", show_default=True, help="Consumer group (and faust app id)."
)
@click.option("--batch-size", default=500, show_default=True, help="Changes per batch.")
@linger_option
@metrics_port_option
@log_level_option
@click.pass_obj
def router(
    settings: Settings,
    group: str,
    batch_size: int,
    linger: float,
    metrics_port: int,
    log_level: str,
) -> None:
    """Project population changes onto each sector's topic and record the data usage."""
    import faust

    from cli.health import serve_health
    from databus.readiness import FaustAssignment
    from databus.runtime import tune_gc
    from streams.router.worker import SectorRouter

    setup_logging(log_level)
    app = SectorRouter(settings, group=group).build_app(batch_size=batch_size, linger=linger)
    serve_health("router", metrics_port, {"assigned": FaustAssignment(app)})
    worker = faust.Worker(app, loglevel=log_level.replace("warning", "warn"), quiet=True)
    tune_gc()
    worker.execute_from_commandline()
