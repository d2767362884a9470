"""`databus run <component>`: run one long-lived component of the bus in the foreground.

Each component is a sub-command. Components that live in their own module are named in
`COMPONENTS` (`"name": "module:command"`) and imported only when invoked, so the CLI starts fast
and roles stay apart (DESIGN.md §2). SIGTERM and SIGINT stop a component gracefully; a second
signal ends it at once.

Exit codes of `run outbox-relay`: 0 success (with `--drain`: everything published), 1 failure,
2 usage error, 3 another relay holds the outbox's lease (`--lease-timeout` elapsed).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import click

from cli.output import console, emit_json, fail
from databus.runtime import tune_gc
from databus.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from databus.http_service import HealthService
    from producers.outbox import OutboxRelay

COMPONENTS: dict[str, str] = {
    "population-sync": "cli.run_population:population_sync",
    "router": "cli.run_router:router",
    "sink": "cli.run_sink:sink",
    "usage-recorder": "cli.run_usage:usage_recorder",
    "verifier": "cli.run_verifier:verifier",
    "monitor": "cli.run_monitor:monitor",
}
"""Sub-commands of `run` defined in other modules, loaded on first use."""

LEASE_HELD_EXIT = 3
DEFAULT_URL_ENV = "DATABUS_OUTBOX_DATABASE_URL"


class _LazyGroup(click.Group):
    """A group whose sub-commands may live in other modules, imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMPONENTS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMPONENTS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=_LazyGroup)
def run() -> None:
    """Run one component of the bus (in the foreground, until stopped)."""


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGTERM/SIGINT; a second one ends the process at once."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info(
            "%s: finishing the batch in flight, then stopping", signal.Signals(signum).name
        )
        stop.set()
        signal.signal(signum, signal.SIG_DFL)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _configure_logging(level: str) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=level,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    for noisy in ("httpx", "httpx2", "httpcore"):  # one line per registry request
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _outbox_engine(url: str, table: str) -> Engine:
    """An engine on the database holding the outbox `table`; exits if it is not there."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from databus.outbox.table import check_table_name

    try:
        check_table_name(table)
    except ValueError as exc:
        fail(str(exc), 2)
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        fail(f"invalid database URL ({type(exc).__name__})", 2)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        if not inspect(engine).has_table(table):
            fail(
                f"no table {table!r} in {shown}: create it with the DDL in "
                "databus/outbox/ddl/ (databus.outbox.create_outbox)"
            )
    except SQLAlchemyError as exc:
        fail(f"cannot reach the database {shown} ({type(exc).__name__})")
    return engine


def _serve_relay_health(relay: OutboxRelay, engine: Engine, port: int) -> HealthService | None:
    """The relay's endpoints: ready while it holds the lease or waits as a standby, with its
    database answering."""
    from cli.health import serve_health
    from databus.http_service import Check
    from databus.readiness import DatabaseProbe

    checks: dict[str, Check] = {
        "lease": lambda: relay.leased.is_set() or relay.standby.is_set(),
        "database": DatabaseProbe(engine).start(),
    }
    return serve_health("outbox-relay", port, checks)


@run.command("outbox-relay")
@click.option("--database-url", help="SQLAlchemy URL of the database holding the outbox.")
@click.option(
    "--database-url-env",
    default=DEFAULT_URL_ENV,
    show_default=True,
    help="Environment variable with the URL, used without --database-url "
    "(keeps passwords off the command line).",
)
@click.option("--table", default="bus_outbox", show_default=True, help="Outbox table name.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="Rows per batch (one delivery wait and one UPDATE each).",
)
@click.option("--drain", is_flag=True, help="Publish every unpublished row, then exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Serve /metrics, /healthz and /readyz on PORT of DATABUS_METRICS_HOST (default "
    "127.0.0.1; 0: do not serve).",
)
@click.option(
    "--idle-sleep",
    type=click.FloatRange(min=0.001),
    default=0.1,
    show_default=True,
    help="Seconds between looks at an empty outbox (lower: less latency, more queries).",
)
@click.option(
    "--lease-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to wait while another relay holds the lease, then exit 3 "
    "(default: wait as a standby for as long as it takes; 0: exit at once).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the final statistics as JSON.")
@click.pass_obj
def outbox_relay(
    settings: Settings,
    database_url: str | None,
    database_url_env: str,
    table: str,
    batch_size: int,
    drain: bool,
    metrics_port: int,
    idle_sleep: float,
    lease_timeout: float | None,
    log_level: str,
    as_json: bool,
) -> None:
    """Publish a transactional outbox table to Kafka, in id order, marking rows as they go.

    Only one relay per outbox runs at a time (a database lease); a second one waits as a
    standby. Killing the relay at any moment loses nothing: unmarked rows are sent again.
    """
    from databus.settings import EndpointsMissingError
    from producers.outbox import LeaseHeldError, OutboxRelay, RelayError

    _configure_logging(log_level.upper())
    url = database_url or os.environ.get(database_url_env)
    if not url:
        fail(f"no database URL: pass --database-url or set {database_url_env}", 2)
    try:
        endpoints = settings.endpoints
    except EndpointsMissingError as exc:
        fail(str(exc))
    engine = _outbox_engine(url, table)
    relay = OutboxRelay(
        engine,
        endpoints.bootstrap_servers,
        endpoints.registry_url,
        table=table,
        batch_size=batch_size,
        idle_sleep=idle_sleep,
        lease_timeout=lease_timeout,
    )
    service = _serve_relay_health(relay, engine, metrics_port)
    tune_gc()
    with stop_on_signals() as stop:
        try:
            stats = relay.run(stop, drain_once=drain)
        except LeaseHeldError as exc:
            fail(str(exc), LEASE_HELD_EXIT)
        except RelayError as exc:
            fail(str(exc))
        finally:
            if service is not None:
                service.stop()
            engine.dispose()
    if as_json:
        emit_json({"ok": stats.drained or not drain, "table": table, **stats.as_dict()})
    else:
        state = "drained" if stats.drained else "stopped"
        console.print(
            f"outbox {table}: published {stats.published} rows in {stats.batches} batches "
            f"({stats.rows_per_second:,.0f} rows/s), {state}",
            markup=False,
            highlight=False,
        )
    if drain and not stats.drained:
        fail("stopped before the outbox was drained")


if __name__ == "__main__":  # `python -m cli.run_cmd ...`, before `run` joins the main CLI
    run(obj=Settings(), prog_name="databus run")
