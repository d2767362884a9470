"""How the sinks' batch consumer treats what librdkafka hands it instead of a record."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, Message

from consumers.batch import FatalConsumerError, _skippable


def test_the_end_of_a_partition_and_passing_errors_are_skipped() -> None:
    eof = Message(topic="t", error=KafkaError(KafkaError._PARTITION_EOF))
    down = Message(topic="t", error=KafkaError(KafkaError._ALL_BROKERS_DOWN, "all down"))
    transport = Message(topic="t", error=KafkaError(KafkaError._TRANSPORT, "reset"))
    assert all(_skippable(m, "sink-tax") for m in (eof, down, transport))


def test_a_record_is_not_skipped() -> None:
    assert not _skippable(Message(topic="t", value=b"x"), "sink-tax")


def test_a_fatal_error_asks_for_a_new_consumer() -> None:
    fenced = KafkaError(KafkaError._FATAL, "static consumer fenced", fatal=True)
    with pytest.raises(FatalConsumerError) as raised:
        _skippable(Message(topic="t", error=fenced), "sink-tax")
    assert raised.value.error.fatal()


def test_a_fatal_code_without_the_flag_also_asks_for_a_new_consumer() -> None:
    """A consumed message's copy of the fatal error has its code, not its flag (seen here)."""
    fenced = KafkaError(KafkaError._FATAL, "static consumer fenced")
    with pytest.raises(FatalConsumerError):
        _skippable(Message(topic="t", error=fenced), "sink-tax")
