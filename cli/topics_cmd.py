"""`databus topics apply|list`: the topics the topology asks for, made real in Kafka.

Exit codes: 0 success, 1 Kafka refused or could not be reached, 2 the topology is invalid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import click

from cli.output import console, emit_json, err_console, fail
from databus.settings import Settings

if TYPE_CHECKING:
    from databus.topology import TopicSpec, TopologyError

TOPOLOGY_EXIT = 2


def _topology_failed(error: TopologyError, as_json: bool) -> NoReturn:
    if as_json:
        emit_json(
            {
                "ok": False,
                "topology": error.source,
                "problems": [p.as_dict() for p in error.problems],
            }
        )
    else:
        err_console.print(
            f"[bold red]error:[/] {error.source or 'topology'}: {len(error.problems)} problem(s)",
            markup=True,
            highlight=False,
        )
        for problem in error.problems:
            err_console.print(f"  - {problem}", markup=False, highlight=False)
    raise SystemExit(TOPOLOGY_EXIT)


def _fail(message: str, code: int, as_json: bool) -> NoReturn:
    """Exit with `code`; under `--json` the error is a JSON document on stdout too."""
    if as_json:
        emit_json({"ok": False, "changes": [], "problems": [message]})
        raise SystemExit(code)
    fail(message, code)


def _specs(settings: Settings, as_json: bool) -> list[TopicSpec]:
    from databus.topology import Topics, TopologyError, load_topology

    try:
        topology = load_topology(settings.topology)
        return Topics(topology, settings.environment, settings.topic_prefix).specs()
    except TopologyError as exc:
        if exc.source is None:
            exc = TopologyError(exc.problems, source=str(settings.topology))
        _topology_failed(exc, as_json)
    except ValueError as exc:  # a topic prefix Kafka would not accept
        _fail(str(exc), TOPOLOGY_EXIT, as_json)


@click.group()
def topics() -> None:
    """Create and update Kafka topics from the topology."""


@topics.command()
@click.option("--dry-run", is_flag=True, help="Let the broker validate the changes; make none.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for Kafka.")
@click.pass_obj
def apply(settings: Settings, dry_run: bool, as_json: bool, timeout: float) -> None:
    """Create missing topics, add partitions and set configs; report what changed."""
    from rich.table import Table

    from databus.kafka_admin import TopicsApplyError, apply_topics
    from databus.settings import EndpointsMissingError

    specs = _specs(settings, as_json)
    try:  # only Kafka is needed here, not the registry
        bootstrap = settings.bootstrap_servers or settings.endpoints.bootstrap_servers
    except EndpointsMissingError as exc:
        _fail(str(exc), 1, as_json)
    try:
        changes = apply_topics(bootstrap, specs, dry_run=dry_run, timeout=timeout)
    except TopicsApplyError as exc:
        if as_json:
            emit_json(
                {
                    "ok": False,
                    "dry_run": dry_run,
                    "bootstrap_servers": bootstrap,
                    "changes": [c.as_dict() for c in exc.applied],
                    "problems": exc.problems,
                }
            )
            raise SystemExit(1) from None
        for change in exc.applied:
            console.print(f"applied: {change}", markup=False, highlight=False)
        fail("\n  - ".join([f"{len(exc.problems)} topic problem(s):", *exc.problems]))
    if as_json:
        emit_json(
            {
                "ok": True,
                "dry_run": dry_run,
                "bootstrap_servers": bootstrap,
                "environment": settings.environment,
                "topics": len(specs),
                "changes": [c.as_dict() for c in changes],
                "problems": [],
            }
        )
        return
    if not changes:
        console.print(
            f"no changes: {len(specs)} topics already match the topology ({settings.environment})"
        )
        return
    title = "changes to make (dry run)" if dry_run else "changes applied"
    table = Table(title=title)
    table.add_column("topic", overflow="fold", min_width=24)
    for header in ("change", "from", "to"):
        table.add_column(header, no_wrap=header != "to")
    for c in changes:
        if c.action == "create":
            spec = next(s for s in specs if s.name == c.topic)
            table.add_row(c.topic, "create", "", _summary(spec))
        else:
            table.add_row(c.topic, c.key or c.action, c.old or "", c.new or "")
    console.print(table)


def _duration(ms: str | None) -> str:
    """`604800000` → `7d`; `-1` → `forever`."""
    if ms is None:
        return "-"
    value = int(ms)
    if value < 0:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}ms"


def _summary(spec: TopicSpec) -> str:
    policy = spec.config.get("cleanup.policy", "?")
    retention = "" if spec.compacted else f" {_duration(spec.config.get('retention.ms'))}"
    return (
        f"{spec.partitions}p ×{spec.replication_factor} {policy}{retention} "
        f"isr={spec.config.get('min.insync.replicas', '?')}"
    )


@topics.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(settings: Settings, as_json: bool) -> None:
    """Show every topic the topology derives, with partitions, replication and config."""
    specs = _specs(settings, as_json)
    if as_json:
        emit_json(
            {
                "environment": settings.environment,
                "topic_prefix": settings.topic_prefix,
                "topics": [s.as_dict() for s in specs],
            }
        )
        return
    from rich.table import Table

    table = Table(title=f"topics ({settings.environment})")
    table.add_column("topic", overflow="fold", min_width=24)
    for header in ("parts", "repl", "isr", "cleanup", "retention"):
        table.add_column(header)
    for s in specs:
        table.add_row(
            s.name,
            str(s.partitions),
            str(s.replication_factor),
            s.config.get("min.insync.replicas", "-"),
            s.config.get("cleanup.policy", "-"),
            "-" if s.compacted else _duration(s.config.get("retention.ms")),
        )
    console.print(table)
