"""Demo step: every source ministry publishes Avro heartbeats through the registry to
`bus.heartbeats.v1`; they are read back and their Confluent framing checked against the
registry's schema id."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from rich.table import Table

from cli.output import console, fail
from databus.registry import registry_client, value_subject
from databus.security.client import secured
from databus.serde import Decoder, Encoder, framing
from databus.settings import Settings
from databus.topology.model import Topology
from databus.topology.topics import Topics
from schemas.models.downstream import Heartbeat


@dataclass
class HeartbeatReport:
    """What one round trip of heartbeats showed."""

    topic: str
    schema_id: int
    sent: Counter[str]
    received: Counter[str]
    bad_framing: int

    @property
    def ok(self) -> bool:
        return self.sent == self.received and self.bad_framing == 0


def show_heartbeats(
    settings: Settings, topology: Topology, topics: Topics, per_source: int
) -> bool:
    """Demo step: every source's heartbeats through the registry and back. True if all held."""
    endpoints = settings.endpoints
    report = round_trip_heartbeats(
        endpoints.bootstrap_servers, endpoints.registry_url, topology, topics, per_source
    )
    _print_heartbeats(report)
    return report.ok


def round_trip_heartbeats(
    bootstrap: str, registry_url: str, topology: Topology, topics: Topics, per_source: int
) -> HeartbeatReport:
    """Publish `per_source` heartbeats per source agency, then read them all back."""
    client = registry_client(registry_url)
    topic = topics.heartbeats
    encoder = Encoder(client, topic, "Heartbeat")
    producer = Producer(
        secured({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    )
    instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    sent: Counter[str] = Counter()
    for source in topology.sources.values():
        for sequence in range(per_source):
            heartbeat = Heartbeat(
                source=source.agency,
                instance=instance,
                sequence=sequence,
                sent_at=datetime.now(UTC),
                interval_seconds=source.heartbeat_interval_seconds,
            )
            value = encoder.encode(heartbeat)
            producer.produce(topic, value, key=source.agency.encode())
            sent[source.agency] += 1
    undelivered = producer.flush(30)
    if undelivered:
        fail(f"{undelivered} heartbeats not delivered to {topic} within 30 s")
    schema_id = client.get_latest_version(value_subject(topic)).schema_id
    if schema_id is None:
        fail(f"the registry has no schema id for {value_subject(topic)}")
    received, bad_framing = _read_back(
        bootstrap, client, topic, instance, expected=sum(sent.values()), schema_id=schema_id
    )
    return HeartbeatReport(topic, schema_id, sent, received, bad_framing)


def _read_back(
    bootstrap: str,
    client: SchemaRegistryClient,
    topic: str,
    instance: str,
    *,
    expected: int,
    schema_id: int,
) -> tuple[Counter[str], int]:
    decoder = Decoder(client, topic, Heartbeat)
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"demo-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    consumer.subscribe([topic])
    received: Counter[str] = Counter()
    bad_framing = 0
    deadline = time.monotonic() + 30
    try:
        while sum(received.values()) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    fail(f"consuming {topic}: {error}")
                continue
            value = msg.value() or b""
            record = cast(Heartbeat, decoder.decode(value))
            if record.instance != instance:  # earlier demo runs share the topic
                continue
            received[record.source] += 1
            magic, framed_id, _body = framing(value)
            if (magic, framed_id) != (0, schema_id):
                bad_framing += 1
    finally:
        consumer.close()
    return received, bad_framing


def _print_heartbeats(report: HeartbeatReport) -> None:
    table = Table(
        "agency",
        "sent",
        "received back",
        title=f"{report.topic} "
        f"(subject {value_subject(report.topic)}, schema id {report.schema_id})",
    )
    for agency, count in sorted(report.sent.items()):
        colour = "green" if report.received[agency] == count else "red"
        table.add_row(agency, str(count), f"[{colour}]{report.received[agency]}[/]")
    console.print(table)
    console.print(
        f"framing: magic byte 0 and schema id {report.schema_id} on every record read"
        if report.bad_framing == 0
        else f"[red]{report.bad_framing} records with unexpected framing[/]"
    )
