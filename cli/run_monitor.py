"""`databus run monitor`: the lag and health monitor, serving its board, JSON and /metrics."""

from __future__ import annotations

import click

from cli.output import console, fail
from cli.run_options import setup_logging
from databus.settings import Settings


@click.command("monitor")
@click.option("--host", help="Address to bind (default 127.0.0.1; DATABUS_MONITOR_HOST).")
@click.option("--port", type=click.IntRange(0, 65535), help="HTTP port (default 9308; 0: any).")
@click.option("--interval", type=click.FloatRange(min=0.1), help="Seconds between collections.")
@click.option("--window", type=click.IntRange(min=2), help="Observations per health window.")
@click.option("--group-prefix", help="Prefix of the components' consumer groups.")
@click.option(
    "--component-metrics-url",
    "component_urls",
    multiple=True,
    help="A component's /metrics URL, read for freshness histograms (repeatable).",
)
@click.option("--no-publish", is_flag=True, help="Do not publish status changes to Kafka.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.pass_obj
def monitor(
    settings: Settings,
    host: str | None,
    port: int | None,
    interval: float | None,
    window: int | None,
    group_prefix: str | None,
    component_urls: tuple[str, ...],
    no_publish: bool,
    log_level: str,
) -> None:
    """Collect consumer-group lag, judge every connection, serve the board on HTTP."""
    from prometheus_client.registry import CollectorRegistry

    from cli.run_cmd import stop_on_signals
    from consumers.monitor.exposition import SnapshotCollector
    from consumers.monitor.http import MonitorServer, favour_scrapes
    from consumers.monitor.service import Monitor
    from consumers.monitor.settings import MonitorSettings
    from databus.runtime import tune_gc
    from databus.settings import EndpointsMissingError

    setup_logging(log_level)
    overrides: dict[str, object] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "interval_seconds": interval,
            "window": window,
            "group_prefix": group_prefix,
        }.items()
        if v is not None
    }
    if component_urls:
        overrides["component_metrics_urls"] = list(component_urls)
    if no_publish:
        overrides["publish_status"] = False
    options = MonitorSettings(**overrides)  # type: ignore[arg-type]
    try:
        settings.endpoints  # noqa: B018
    except EndpointsMissingError as exc:
        fail(str(exc))
    registry = CollectorRegistry()
    service = Monitor(settings, options, registry)
    registry.register(SnapshotCollector(service))
    restored = service.restore()
    try:
        server = MonitorServer(service, registry, options.host, options.port)
    except OSError as exc:
        fail(f"cannot serve on {options.host}:{options.port}: {exc.strerror}")
    server.start()
    console.print(
        f"monitor: board on {server.address}/ (restored {restored} statuses); "
        f"collecting every {options.interval_seconds:g} s",
        markup=False,
        highlight=False,
    )
    tune_gc()  # fewer, shorter collector pauses: they would stall a scrape
    favour_scrapes()
    with stop_on_signals() as stop:
        try:
            service.run(stop)
        finally:
            server.stop()
