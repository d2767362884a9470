"""Dead letters: written with their reason headers, listed, shown and replayed by the CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner
from confluent_kafka import Producer

from cli.main import cli
from databus.dead_letter import H_OFFSET, H_REASON, H_TOPIC, DeadLetterWriter, Failure
from databus.kafka_config import producer_config
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.topic_reader import header, read_all
from databus.topology.topics import Topics
from tests.conftest import settings_env


def test_dead_letters_carry_reason_headers_and_can_be_replayed(bus_ready: Settings) -> None:
    topics = Topics.from_settings(bus_ready)
    bootstrap = bus_ready.endpoints.bootstrap_servers
    producer = Producer(producer_config(bootstrap, "test-dlq"))
    writer = DeadLetterWriter(
        producer,
        Encoder(
            registry_client(bus_ready.endpoints.registry_url), topics.dead_letter, "DeadLetter"
        ),
        "test-sync",
    )
    source = topics.source_topic("civil-status")
    writer.send_raw(
        topic=source,
        partition=1,
        offset=41,
        key=b"001090000001",
        value=b"\x07garbage",
        failure=Failure("bad_magic_byte", "magic byte is 7", "DecodeError"),
    )
    writer.send_raw(
        topic=source,
        partition=2,
        offset=99,
        key=b"001090000002",
        value=b"\x00",
        failure=Failure("truncated", "1 bytes is shorter than the header", "DecodeError"),
    )
    assert producer.flush(10) == 0

    stored = read_all(bootstrap, topics.dead_letter)
    assert [header(m, H_REASON) for m in stored] == ["bad_magic_byte", "truncated"] or sorted(
        header(m, H_REASON) for m in stored
    ) == ["bad_magic_byte", "truncated"]
    assert {header(m, H_TOPIC) for m in stored} == {source}
    assert {header(m, H_OFFSET) for m in stored} == {"41", "99"}

    runner = CliRunner()
    listed = runner.invoke(cli, ["dlq", "list", "--json"], env=settings_env(bus_ready))
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {r["reason"] for r in rows} == {"bad_magic_byte", "truncated"}
    assert all("001090000001" not in json.dumps(r) for r in rows)
    first = next(r for r in rows if r["reason"] == "bad_magic_byte")
    shown = runner.invoke(
        cli,
        ["dlq", "show", str(first["partition"]), str(first["offset"]), "--json"],
        env=settings_env(bus_ready),
    )
    assert json.loads(shown.output)["original_offset"] == 41

    replayed = runner.invoke(
        cli, ["dlq", "replay", "--reason", "bad_magic_byte", "--json"], env=settings_env(bus_ready)
    )
    assert replayed.exit_code == 0, replayed.output
    assert len(json.loads(replayed.output)["replayed"]) == 1
    back = read_all(bootstrap, source)
    assert [(m.key(), m.value()) for m in back] == [(b"001090000001", b"\x07garbage")]
