"""The SDK's delivery bookkeeping and topology gate, without a broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from confluent_kafka import KafkaError, Message
from prometheus_client import REGISTRY

from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from producers.sdk.gate import NotGrantedError, SourceGate
from producers.sdk.ledger import Delivery, DeliveryLedger, PublishError
from schemas.domain import ContractError
from schemas.examples import EXAMPLES

TOPOLOGY = load_topology(Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml")
AGENCY = "VN/TEST/ledger"


class _Message:
    """What a delivery report carries that the ledger reads."""

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 41


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"agency": AGENCY, **labels}) or 0.0


def test_a_delivered_event_resolves_its_future_and_counts_after_the_flush() -> None:
    ledger = DeliveryLedger(AGENCY, "t")
    before = _sample("databus_events_published_total", event_type="BirthRegistered")
    future = ledger.expect("e1", "BirthRegistered")
    assert not future.done() and list(ledger.pending) == ["e1"]
    future(None, cast(Message, _Message()))
    delivery = future.result(0)
    assert isinstance(delivery, Delivery)
    assert delivery[:4] == ("e1", "t", 2, 41) and delivery.latency_seconds >= 0
    assert ledger.pending == {} and ledger.delivered == 1 and ledger.failed == {}
    assert _sample("databus_events_published_total", event_type="BirthRegistered") == before
    ledger.flush_metrics()
    after = _sample("databus_events_published_total", event_type="BirthRegistered")
    assert after == before + 1
    assert _sample("databus_delivery_latency_seconds_count") >= 1


def test_a_failed_delivery_fails_its_future_with_the_reason_and_no_value() -> None:
    ledger = DeliveryLedger(AGENCY, "t")
    before = _sample(
        "databus_events_failed_total", event_type="DeathRegistered", reason="delivery_timeout"
    )
    future = ledger.expect("e2", "DeathRegistered")
    future(KafkaError(KafkaError._MSG_TIMED_OUT), cast(Message, _Message()))
    error = future.exception(0)
    assert isinstance(error, PublishError)
    assert (error.event_id, error.reason) == ("e2", "delivery_timeout")
    assert ledger.failed == {"e2": "delivery_timeout"} and ledger.pending == {}
    assert ledger.delivered == 0
    assert (
        _sample(
            "databus_events_failed_total", event_type="DeathRegistered", reason="delivery_timeout"
        )
        == before + 1
    )


def test_an_abandoned_event_is_no_longer_pending_and_not_a_delivery_failure() -> None:
    ledger = DeliveryLedger(AGENCY, "t")
    ledger.expect("e3", "BirthRegistered")
    error = ledger.abandon("e3", "BirthRegistered", "produce", "KafkaException")
    assert str(error) == "event e3: produce: KafkaException"
    assert ledger.pending == {} and ledger.failed == {}


def test_a_repeated_event_id_does_not_break_the_report_of_the_other() -> None:
    ledger = DeliveryLedger(AGENCY, "t")
    first, second = ledger.expect("e4", "BirthRegistered"), ledger.expect("e4", "BirthRegistered")
    first(None, cast(Message, _Message()))
    second(None, cast(Message, _Message()))
    assert first.done() and second.done() and ledger.delivered == 2


def _gate() -> SourceGate:
    return SourceGate(Topics(TOPOLOGY, "local"), "civil-status")


def test_gate_passes_a_granted_event_and_names_field_and_rule_of_a_refusal() -> None:
    gate = _gate()
    event: dict[str, Any] = EXAMPLES["BirthRegistered"]
    assert gate.check(event).event_type == "BirthRegistered"
    with pytest.raises(NotGrantedError) as mismatch:
        gate.check({**event, "source": "VN/GOV/BCA/cutru"}, record="line 7")
    assert mismatch.value.rules == ("source.mismatch",)
    assert "line 7" in str(mismatch.value)
    gate._granted = frozenset({"DeathRegistered"})
    with pytest.raises(NotGrantedError) as refused:
        gate.check(event)
    assert refused.value.rules == ("source.not_granted",)
    assert f"event {event['event_id']}" in str(refused.value)
    with pytest.raises(ContractError) as invalid:
        _gate().check({**event, "subject_pin": "12345"})
    assert "12345" not in str(invalid.value)
