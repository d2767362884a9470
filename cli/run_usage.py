"""`databus run usage-recorder`: store every release of citizen data for the usage trail."""

from __future__ import annotations

import logging
import os
import signal
import threading

import click

from cli.output import console, fail
from cli.run_options import log_level_option, metrics_port_option
from databus.runtime import tune_gc
from databus.settings import Settings

DEFAULT_URL_ENV = "DATABUS_NPD_DATABASE_URL"


@click.command("usage-recorder")
@click.option("--database-url", help="SQLAlchemy URL of the audit store (the population DB).")
@click.option(
    "--database-url-env",
    default=DEFAULT_URL_ENV,
    show_default=True,
    help="Environment variable holding the URL (used without --database-url).",
)
@click.option("--group", default="data-usage", show_default=True, help="Consumer group.")
@metrics_port_option
@log_level_option
@click.pass_obj
def usage_recorder(
    settings: Settings,
    database_url: str | None,
    database_url_env: str,
    group: str,
    metrics_port: int,
    log_level: str,
) -> None:
    """Consume bus.data-usage.v1 into the data_usage audit table."""
    from cli.health import serve_health
    from consumers.usage.worker import UsageRecorder
    from databus.http_service import Check
    from databus.readiness import DatabaseProbe

    url = database_url or os.environ.get(database_url_env)
    if not url:
        fail(f"no audit database: pass --database-url or set {database_url_env}")
    logging.basicConfig(level=log_level.upper())
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    recorder = UsageRecorder(settings, url, group=group)
    checks: dict[str, Check] = {
        "assigned": recorder.assigned.is_set,
        "writes": recorder.database_ok.is_set,
        "database": DatabaseProbe(recorder.engine).start(),
    }
    service = serve_health("usage-recorder", metrics_port, checks)
    tune_gc()
    stats = recorder.run(stop.is_set)
    if service is not None:
        service.stop()
    console.print(f"usage recorder: {stats.rows} releases stored in {stats.batches} batches")
