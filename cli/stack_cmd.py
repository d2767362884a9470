"""`databus stack up|down|status`: the local real stack."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from cli.output import console, emit_json, fail
from databus.settings import Settings
from databus.stack.cluster import MAX_NODES, kafka_part_names
from databus.stack.errors import StackError
from databus.stack.launcher import Stack
from databus.stack.parts import DATABASE_PARTS, DEFAULT_PARTS, PARTS
from databus.stack.secure_kafka import SECURE_STACK_DIR


def _stack(settings: Settings, secure: bool = False) -> Stack:
    from databus.stack.secure_kafka import stack_for

    return stack_for(_stack_dir(settings, secure), settings.cache_dir, secure=secure)


def _stack_dir(settings: Settings, secure: bool) -> Path:
    """`--secure` keeps its own directory (`.stack-secure`) unless DATABUS_STACK_DIR is set."""
    if secure and "stack_dir" not in settings.model_fields_set:
        return SECURE_STACK_DIR
    return settings.stack_dir


_SECURE = click.option(
    "--secure",
    is_flag=True,
    help="The secure stack (TLS + SASL/SCRAM + ACLs) in .stack-secure (docs/security.md).",
)


@click.group()
def stack() -> None:
    """Start, inspect and stop the local Kafka, registry and databases."""


@stack.command()
@click.option(
    "--with",
    "extra",
    multiple=True,
    type=click.Choice(sorted(PARTS)),
    help="Start this part too (repeatable): postgres, mariadb.",
)
@click.option(
    "--all", "all_parts", is_flag=True, help="Start Kafka, registry, PostgreSQL and MariaDB."
)
@click.option(
    "--brokers",
    type=click.IntRange(1, MAX_NODES),
    default=1,
    show_default=True,
    help="Kafka nodes: 3 starts a KRaft cluster (parts kafka-1..3, a 3-voter quorum); apply "
    "topics with DATABUS_ENVIRONMENT=local-cluster for replication factor 3, min ISR 2.",
)
@_SECURE
@click.pass_obj
def up(
    settings: Settings, extra: tuple[str, ...], all_parts: bool, brokers: int, secure: bool
) -> None:
    """Start Kafka (KRaft) and the registry, plus the databases asked for."""
    if secure and brokers > 1:
        fail("--secure runs one broker; a secure cluster is not part of the local stack yet")
    try:
        kafka = kafka_part_names(_stack_dir(settings, secure).resolve(), brokers)
    except StackError as exc:
        fail(str(exc))
    names = [*kafka, *(n for n in DEFAULT_PARTS if n != "kafka")] + [
        n for n in (DATABASE_PARTS if all_parts else extra) if n not in DEFAULT_PARTS
    ]
    try:
        state = _stack(settings, secure).up(dict.fromkeys(names), report=console.print)
    except StackError as exc:
        fail(str(exc))
    console.print(f"stack up in {state.stack_dir}; stop it with `databus stack down`")
    if secure:
        from databus.stack.secure_kafka import secure_hint

        console.print(secure_hint(Path(state.stack_dir)), highlight=False)


@stack.command()
@_SECURE
@click.pass_obj
def down(settings: Settings, secure: bool) -> None:
    """Stop exactly the processes `stack up` started (by pid file)."""
    try:
        stopped = _stack(settings, secure).down(report=console.print)
    except StackError as exc:
        fail(str(exc))
    if not stopped:
        console.print("nothing was running")


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_SECURE
@click.pass_obj
def status(settings: Settings, as_json: bool, secure: bool) -> None:
    """Show each part, its address and whether it answers. Exit 1 if one does not."""
    the_stack = _stack(settings, secure)
    parts = the_stack.status()
    if as_json:
        emit_json({"stack_dir": str(the_stack.stack_dir), "parts": [p.as_dict() for p in parts]})
    else:
        table = Table("part", "address", "url", "pid", "answers")
        for p in parts:
            table.add_row(
                p.name, p.address, p.url, str(p.pid), "[green]yes[/]" if p.answers else "[red]no[/]"
            )
        console.print(table if parts else "no stack part started here")
    if not parts or not all(p.answers for p in parts):
        raise SystemExit(1)
