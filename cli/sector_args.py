"""The arguments every command on a sector and the population database shares (backfill,
reconcile): SECTOR, the two database URLs, and how they are found."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli.output import fail

if TYPE_CHECKING:
    from databus.topology.model import Topology

F = TypeVar("F", bound=Callable[..., Any])


def sector_databases(command: F) -> F:
    """Add SECTOR, --database-url(-env) and --npd-database-url(-env) to a command."""
    options = [
        click.argument("sector"),
        click.option("--database-url", help="SQLAlchemy URL of the sector database."),
        click.option(
            "--database-url-env",
            help="Environment variable holding the sector database URL "
            "(default: the sector's database_url_env in the topology).",
        ),
        click.option(
            "--npd-database-url", help="SQLAlchemy URL of the population database (read)."
        ),
        click.option(
            "--npd-database-url-env",
            help="Environment variable holding the population database URL "
            "(default: the topology's population.database_url_env).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def resolve_url(url: str | None, env: str, what: str) -> str:
    """`url`, else the value of environment variable `env`; exit 2 when neither is set."""
    value = url or os.environ.get(env)
    if not value:
        fail(f"no {what}: pass its URL or set {env}", 2)
    return value


def sector_urls(
    topology: Topology,
    sector: str,
    database_url: str | None,
    database_url_env: str | None,
    npd_database_url: str | None,
    npd_database_url_env: str | None,
) -> tuple[str, str]:
    """(sector database URL, population database URL); exit 2 on an unknown sector or a
    missing URL."""
    if sector not in topology.sectors:
        fail(f"no sector {sector!r} in the topology (sectors: {', '.join(topology.sectors)})", 2)
    url = resolve_url(
        database_url,
        database_url_env or topology.sectors[sector].database_url_env,
        f"database for sector {sector} (--database-url)",
    )
    npd_url = resolve_url(
        npd_database_url,
        npd_database_url_env or topology.population.database_url_env,
        "population database (--npd-database-url)",
    )
    return url, npd_url
