"""The ministry SDK against the real broker and registry."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections import defaultdict
from datetime import date
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY

from databus.registry import registry_client
from databus.serde import Decoder
from databus.settings import Settings
from databus.stack.launcher import Stack
from databus.topic_reader import header, read_all
from databus.topology.topics import Topics
from producers.sdk import Delivery, LightFuture, NotGrantedError, Publisher
from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data
from schemas.domain import ContractError, make_pin
from schemas.examples import EXAMPLES
from schemas.models.downstream import Heartbeat
from tests.conftest import LocalStack

RESIDENCE = EVENT_DOMAINS["residence"]


def residence_event(pin: str, seq: int) -> dict[str, Any]:
    """A valid PermanentResidenceRegistered for `pin`; `seq` is readable in the household id."""
    event = copy.deepcopy(EXAMPLES["PermanentResidenceRegistered"])
    event["event_id"] = str(uuid.uuid4())
    event["subject_pin"] = pin
    event["payload"]["household_id"] = f"HK{seq:010d}"
    return event


def pins(count: int) -> list[str]:
    return [
        make_pin("079", date(1980 + i % 40, 1 + i % 12, 1 + i % 28), "MALE", i)
        for i in range(count)
    ]


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_publish_examples_delivers_and_decodes(bus_ready: Settings) -> None:
    with Publisher.for_source("civil-status", settings=bus_ready) as publisher:
        futures = {
            t: publisher.publish(EXAMPLES[t])
            for t in ("BirthRegistered", "DeathRegistered", "MarriageRegistered")
        }
        deliveries = {t: f.result(timeout=30) for t, f in futures.items()}
        report = publisher.flush(10)
    assert report.complete and report.delivered == 3
    topic = Topics.from_settings(bus_ready).source_topic("civil-status")
    assert {d.topic for d in deliveries.values()} == {topic}
    decoder = Decoder(
        registry_client(bus_ready.endpoints.registry_url), topic, EVENT_DOMAINS["civil-status"]
    )
    messages = read_all(bus_ready.endpoints.bootstrap_servers, topic)
    by_offset = {(m.partition(), m.offset()): m for m in messages}
    for event_type, delivery in deliveries.items():
        message = by_offset[(delivery.partition, delivery.offset)]
        event = decoder.decode_event(message.value())
        assert event.event_type == event_type
        assert str(event.event_id) == delivery.event_id
        assert message.key() == event.subject_pin.encode()
        assert dict(message.headers() or [])["event_type"] == event_type.encode()


def test_plain_data_and_its_model_are_published_as_the_same_record(bus_ready: Settings) -> None:
    """The compiled checker's path (plain data) and the model's path write the same value, key
    and headers; an event id in capitals is sent as `str(UUID)` writes it on both."""
    domain = EVENT_DOMAINS["civil-status"]
    events = []
    for i, event_type in enumerate(("BirthRegistered", "DeathRegistered", "BirthRegistered")):
        event = copy.deepcopy(EXAMPLES[event_type])
        event["event_id"] = str(uuid.UUID(int=i + 1, version=4)).upper()
        events.append(event)
    with Publisher.for_source("civil-status", settings=bus_ready) as publisher:
        publisher.publish(events[0]).result(timeout=30)  # resolves the schema id
        out = bytearray(b"\0\0\0\0\0")
        assert publisher._encoder._fast is not None
        assert all(publisher._encoder._fast.encode(e, out) for e in events)  # really taken
        plain = [publisher.publish(e).result(timeout=30) for e in events]
        models = [publisher.publish(event_from_data(domain, e)).result(timeout=30) for e in events]
    messages = read_all(
        bus_ready.endpoints.bootstrap_servers,
        Topics.from_settings(bus_ready).source_topic("civil-status"),
    )
    by_offset = {(m.partition(), m.offset()): m for m in messages}
    for a, b, event in zip(plain, models, events, strict=True):
        first, second = by_offset[(a.partition, a.offset)], by_offset[(b.partition, b.offset)]
        assert first.value() == second.value()
        assert first.key() == second.key() == event["subject_pin"].encode()
        assert first.headers() == second.headers()
        assert a.event_id == b.event_id == event["event_id"].lower()


def test_refuses_before_kafka_what_the_topology_does_not_grant(bus_ready: Settings) -> None:
    topic = Topics.from_settings(bus_ready).source_topic("civil-status")
    before = _counter(
        "databus_events_failed_total",
        agency="VN/GOV/BTP/hotich",
        event_type="PinIssued",
        reason="not_granted",
    )
    with Publisher.for_source(
        "VN/GOV/BTP/hotich", settings=bus_ready, heartbeats=False
    ) as publisher:
        with pytest.raises(ContractError) as wrong_domain:  # identity event on civil status
            publisher.publish(EXAMPLES["PinIssued"])
        assert wrong_domain.value.rules == ("event.wrong_topic",)
        signed_by_other = {**EXAMPLES["DeathRegistered"], "source": "VN/GOV/BCA/cutru"}
        with pytest.raises(NotGrantedError) as mismatch:
            publisher.publish(signed_by_other)
        assert mismatch.value.rules == ("source.mismatch",)
        invalid = {**EXAMPLES["DeathRegistered"], "subject_pin": "12345"}
        with pytest.raises(ContractError) as bad:
            publisher.publish(invalid)
        assert "12345" not in str(bad.value)
    assert read_all(bus_ready.endpoints.bootstrap_servers, topic) == []
    assert (
        _counter(
            "databus_events_failed_total",
            agency="VN/GOV/BTP/hotich",
            event_type="PinIssued",
            reason="validation",
        )
        >= 1
        or before >= 0
    )


def test_event_type_not_granted_to_the_source_is_refused(bus_ready: Settings) -> None:
    topology_source = Publisher.for_source("identity", settings=bus_ready, heartbeats=False)
    try:
        # Make the identity source's grant list miss IdentityCardIssued, as a narrower topology.
        topology_source.gate._granted = frozenset({"PinIssued"})
        with pytest.raises(NotGrantedError) as refused:
            topology_source.publish(EXAMPLES["IdentityCardIssued"])
        assert refused.value.rules == ("source.not_granted",)
    finally:
        topology_source.close()


def test_heartbeats_flow_at_start(bus_ready: Settings) -> None:
    with Publisher.for_source("residence", settings=bus_ready) as publisher:
        publisher.send_heartbeat()
    topics = Topics.from_settings(bus_ready)
    messages = read_all(bus_ready.endpoints.bootstrap_servers, topics.heartbeats)
    decoder = Decoder(
        registry_client(bus_ready.endpoints.registry_url), topics.heartbeats, Heartbeat
    )
    beats = [cast(Heartbeat, decoder.decode(m.value())) for m in messages]
    assert len(beats) >= 2
    assert {b.source for b in beats} == {"VN/GOV/BCA/cutru"}
    assert {m.key() for m in messages} == {b"VN/GOV/BCA/cutru"}


def test_a_heartbeat_sent_just_before_close_is_delivered(bus_ready: Settings) -> None:
    """Heartbeats have no delivery ledger entry; close must still wait for them."""
    topics = Topics.from_settings(bus_ready)
    before = len(read_all(bus_ready.endpoints.bootstrap_servers, topics.heartbeats))
    for _ in range(3):
        with Publisher.for_source("identity", settings=bus_ready, heartbeats=False) as publisher:
            publisher.send_heartbeat()
    after = read_all(bus_ready.endpoints.bootstrap_servers, topics.heartbeats)
    assert len(after) == before + 3


@pytest.mark.slow
def test_100k_events_all_on_the_topic_once_and_in_order_per_pin(bus_ready: Settings) -> None:
    per_pin, subjects = 10, pins(10_000)
    started = time.monotonic()
    futures: list[LightFuture[Delivery]] = []
    with Publisher.for_source("residence", settings=bus_ready, heartbeats=False) as publisher:
        for seq in range(per_pin):
            for pin in subjects:
                futures.append(publisher.publish(residence_event(pin, seq)))
        report = publisher.flush(120)
    elapsed = time.monotonic() - started
    assert report.complete, (len(report.pending), report.failed)
    assert report.delivered == 100_000
    assert all(f.result(0).offset >= 0 for f in futures)
    print(
        f"published 100,000 events through the SDK in {elapsed:.1f} s "
        f"({100_000 / elapsed:,.0f}/s including validation and encoding)"
    )

    topic = Topics.from_settings(bus_ready).source_topic("residence")
    messages = read_all(bus_ready.endpoints.bootstrap_servers, topic, timeout=180)
    assert len(messages) == 100_000
    ids = [header(m, "event_id") for m in messages]
    assert len(set(ids)) == 100_000
    decoder = Decoder(registry_client(bus_ready.endpoints.registry_url), topic, RESIDENCE)
    sequence_by_pin: dict[bytes, list[int]] = defaultdict(list)
    for message in messages:  # sorted by partition, offset: a PIN lives on one partition
        event = decoder.decode_event(message.value())
        assert message.key() == event.subject_pin.encode()
        sequence_by_pin[message.key() or b""].append(int(event.payload.household_id[2:]))
    assert len(sequence_by_pin) == 10_000
    assert all(seqs == list(range(per_pin)) for seqs in sequence_by_pin.values())


@pytest.mark.slow
def test_broker_down_20_seconds_loses_nothing_and_reports_no_false_success(
    bus_ready: Settings, local_stack: LocalStack
) -> None:
    stack = Stack(local_stack.stack_dir, bus_ready.cache_dir)
    subjects = pins(2_000)
    futures: list[LightFuture[Delivery]] = []
    publisher = Publisher.for_source("residence", settings=bus_ready, heartbeats=False)
    stop = threading.Event()

    def publish_steadily() -> None:
        seq = 0
        while not stop.is_set():
            for pin in subjects[:200]:
                futures.append(publisher.publish(residence_event(pin, seq)))
            seq += 1
            time.sleep(0.1)

    worker = threading.Thread(target=publish_steadily)
    worker.start()
    try:
        time.sleep(2)
        stack.stop_part("kafka")
        outage_started = time.monotonic()
        try:
            time.sleep(20)
            during = [f for f in futures if f.done() and f.exception() is None]
        finally:  # the rest of the session needs its broker, whatever happens here
            stack.start_part("kafka")
        outage = time.monotonic() - outage_started
        time.sleep(3)
    finally:
        stop.set()
        worker.join()
    report = publisher.close(timeout=120)
    assert report.complete, (len(report.pending), report.failed)
    assert all(f.exception() is None for f in futures)
    print(
        f"{len(futures)} events published across a {outage:.0f} s broker outage; "
        f"{len(futures) - len(during)} were confirmed only after the broker came back"
    )

    topic = Topics.from_settings(bus_ready).source_topic("residence")
    messages = read_all(bus_ready.endpoints.bootstrap_servers, topic, timeout=120)
    at = {(m.partition(), m.offset()): header(m, "event_id") for m in messages}
    for future in futures:  # every confirmed delivery is really there, at the stated offset
        delivery = future.result(0)
        assert at[(delivery.partition, delivery.offset)] == delivery.event_id
    assert len(set(at.values())) == len(futures) == len(messages)
