"""`databus dlq list|show|replay`: inspect dead letters and re-submit them after a fix."""

from __future__ import annotations

import click
from rich.table import Table

from cli.output import console, emit_json, fail
from databus.settings import Settings


def _load(settings: Settings) -> list[object]:
    from databus.dead_letter import read_dead_letters
    from databus.registry import registry_client
    from databus.serde import Decoder
    from databus.topic_reader import read_all
    from databus.topology.topics import Topics
    from schemas.models.downstream import DeadLetter

    topic = Topics.from_settings(settings).dead_letter
    endpoints = settings.endpoints
    decoder = Decoder(registry_client(endpoints.registry_url), topic, DeadLetter)
    return list(read_dead_letters(read_all(endpoints.bootstrap_servers, topic), decoder))


def _summary(item: object) -> dict[str, object]:
    from databus.dead_letter import StoredDeadLetter

    assert isinstance(item, StoredDeadLetter)
    r = item.record
    return {
        "partition": item.partition,
        "offset": item.offset,
        "topic": r.original_topic,
        "original_partition": r.original_partition,
        "original_offset": r.original_offset,
        "consumer": r.consumer,
        "error_class": r.error_class,
        "reason": r.reason,
        "message": r.message,
        "failed_at": r.failed_at.isoformat(),
    }


@click.group()
def dlq() -> None:
    """Dead letters: records a component could not decode or apply."""


@dlq.command("list")
@click.option("--reason", help="Only this reason code.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(settings: Settings, reason: str | None, as_json: bool) -> None:
    """List dead letters (no personal values: reasons and positions only)."""
    rows = [_summary(i) for i in _load(settings)]
    rows = [r for r in rows if reason is None or r["reason"] == reason]
    if as_json:
        emit_json(rows)
        return
    table = Table("dlq p/offset", "original topic/p/offset", "consumer", "reason", "message")
    for r in rows:
        table.add_row(
            f"{r['partition']}/{r['offset']}",
            f"{r['topic']}/{r['original_partition']}/{r['original_offset']}",
            str(r["consumer"]),
            str(r["reason"]),
            str(r["message"]),
        )
    console.print(table if rows else "no dead letters")


@dlq.command()
@click.argument("partition", type=int)
@click.argument("offset", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(settings: Settings, partition: int, offset: int, as_json: bool) -> None:
    """Show one dead letter (by its partition and offset in the dead-letter topic)."""
    found = [_summary(i) for i in _load(settings)]
    match = [r for r in found if r["partition"] == partition and r["offset"] == offset]
    if not match:
        fail(f"no dead letter at partition {partition} offset {offset}")
    if as_json:
        emit_json(match[0])
    else:
        for key, value in match[0].items():
            console.print(f"[bold]{key}[/]: {value}", highlight=False)


@dlq.command()
@click.option("--reason", help="Replay only dead letters with this reason code.")
@click.option(
    "--at",
    "positions",
    multiple=True,
    help="Replay only this one, as PARTITION/OFFSET (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def replay(
    settings: Settings, reason: str | None, positions: tuple[str, ...], as_json: bool
) -> None:
    """Re-submit dead letters unchanged to their original topic (after fixing the cause), with
    the original's headers (a signed event stays signed)."""
    from confluent_kafka import Producer

    from databus.dead_letter import StoredDeadLetter
    from databus.kafka_config import producer_config

    wanted = {tuple(int(x) for x in p.split("/", 1)) for p in positions}
    items = [
        i
        for i in _load(settings)
        if isinstance(i, StoredDeadLetter)
        and (reason is None or i.record.reason == reason)
        and (not wanted or (i.partition, i.offset) in wanted)
    ]
    producer = Producer(producer_config(settings.endpoints.bootstrap_servers, "databus-dlq"))
    for item in items:
        r = item.record
        producer.produce(
            r.original_topic,
            r.original_value,
            r.original_key,
            headers=item.replay_headers(),
        )
    left = producer.flush(30)
    if left:
        fail(f"{left} replayed records not delivered within 30 s")
    replayed = [f"{i.partition}/{i.offset}" for i in items]
    if as_json:
        emit_json({"replayed": replayed})
    else:
        console.print(f"replayed {len(replayed)} dead letters to their original topics")
