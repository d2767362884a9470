"""`databus run sink SECTOR`: keep a sector's database equal to its projection topic."""

from __future__ import annotations

import os
import signal
import threading

import click

from cli.output import console, fail
from cli.run_options import log_level_option, metrics_port_option, setup_logging
from databus.settings import Settings


@click.command("sink")
@click.argument("sector")
@click.option("--database-url", help="SQLAlchemy URL of the sector database.")
@click.option(
    "--database-url-env",
    help="Environment variable holding the URL (default: the sector's "
    "database_url_env in the topology).",
)
@click.option("--group", help="Consumer group (default: sink-SECTOR).")
@click.option("--batch-size", default=5000, show_default=True, help="Records per transaction.")
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0.001),
    default=0.5,
    show_default=True,
    help="Longest an idle sink waits for a first record before it looks at the stop signal "
    "again, in seconds (batches never wait to fill: a first record is handed over at once).",
)
@click.option(
    "--instance-id",
    help="Static group membership (group.instance.id): restarted with the same id, the sink "
    "takes its partitions back at once instead of after the broker's session timeout.",
)
@click.option(
    "--validate-records",
    is_flag=True,
    help="Validate every record's model and domain rules before storing it (by default the "
    "sink trusts what the bus itself built and checks the Avro structure only).",
)
@metrics_port_option
@log_level_option
@click.pass_obj
def sink(
    settings: Settings,
    sector: str,
    database_url: str | None,
    database_url_env: str | None,
    group: str | None,
    batch_size: int,
    max_wait: float,
    instance_id: str | None,
    validate_records: bool,
    metrics_port: int,
    log_level: str,
) -> None:
    """Upsert the sector's projections into its database (PostgreSQL, MariaDB or SQLite)."""
    from cli.health import serve_health
    from consumers.sink.worker import SectorSink
    from databus.http_service import Check
    from databus.readiness import DatabaseProbe
    from databus.topology.loader import load_topology

    topology = load_topology(settings.topology)
    if sector not in topology.sectors:
        fail(f"no sector {sector!r} in the topology (sectors: {', '.join(topology.sectors)})")
    env = database_url_env or topology.sectors[sector].database_url_env
    url = database_url or os.environ.get(env)
    if not url:
        fail(f"no database for sector {sector}: pass --database-url or set {env}")
    setup_logging(log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sink = SectorSink(
        settings,
        sector,
        url,
        group=group,
        batch_size=batch_size,
        instance_id=instance_id,
        max_wait=max_wait,
        validate=validate_records,
    )
    checks: dict[str, Check] = {
        "assigned": sink.assigned.is_set,
        "writes": sink.database_ok.is_set,
        "database": DatabaseProbe(sink.engine).start(),
    }
    service = serve_health(f"sink-{sector}", metrics_port, checks)
    stats = sink.run(stop.is_set)
    if service is not None:
        service.stop()
    console.print(
        f"sink {sector}: {stats.rows} rows in {stats.batches} batches, "
        f"{stats.dead_letters} dead letters"
    )
