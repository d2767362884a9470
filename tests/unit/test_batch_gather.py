"""Adaptive batches of the sinks' batch consumer: an idle consumer hands over its first record
at once, a batch grows only while the previous one is still being written, and a batch never
exceeds its size."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition
from sqlalchemy import Connection

from consumers.batch import BatchConsumer, ConsumerStats, FatalConsumerError, _Writing
from schemas.models.base import Contract


class _Consumer:
    """Hands out scripted chunks, one per consume call, and records the timeouts asked."""

    def __init__(self, chunks: list[list[Message]]) -> None:
        self.chunks = chunks
        self.timeouts: list[float] = []

    def consume(self, num: int, timeout: float) -> list[Message]:
        self.timeouts.append(timeout)
        chunk = self.chunks.pop(0) if self.chunks else []
        assert len(chunk) <= num
        return chunk

    def poll(self, timeout: float) -> Message | None:
        """The idle wait: returns the first record as soon as there is one."""
        self.timeouts.append(-timeout)  # negative: a poll
        chunk = self.chunks.pop(0) if self.chunks else []
        assert len(chunk) <= 1
        return chunk[0] if chunk else None


class _Batch(BatchConsumer[str]):
    def __init__(self, consumer: _Consumer, batch_size: int) -> None:  # no Kafka, no database
        self.consumer = consumer  # type: ignore[assignment]
        self.batch_size = batch_size
        self.max_wait = 0.5
        self.group = "sink-test"
        self.stats = ConsumerStats()
        self._fatal = None

    def decode_item(self, value: bytes | None, *, record: str) -> str:
        return (value or b"").decode()

    def to_item(self, record: Contract) -> str:
        raise AssertionError("not used")

    def write(self, conn: Connection, items: Sequence[str]) -> int:
        raise AssertionError("not used")


def _messages(*values: str) -> list[Message]:
    return [Message(topic="t", value=v.encode(), offset=i) for i, v in enumerate(values)]


def _writing(done: bool) -> _Writing[Any]:
    future: Future[int] = Future()
    if done:
        future.set_result(1)
    return _Writing(_messages("old"), ["old"], future)


def test_an_idle_consumer_hands_over_its_first_record_without_waiting_for_more() -> None:
    consumer = _Consumer([[], _messages("a"), _messages("b", "c"), []])
    messages, items, _ = _Batch(consumer, 100)._gather(None)
    assert items == ["a", "b", "c"] and len(messages) == 3
    # what is there; a poll returning at the first record; what else is there, until none
    assert consumer.timeouts == [0.0, -0.5, 0.0, 0.0]


def test_an_idle_consumer_with_nothing_to_read_returns_an_empty_batch_after_max_wait() -> None:
    consumer = _Consumer([])
    messages, _, _ = _Batch(consumer, 100)._gather(None)
    assert messages == [] and consumer.timeouts == [0.0, -0.5]


def test_a_batch_grows_while_the_previous_write_is_in_flight() -> None:
    writing = _writing(done=False)
    assert writing.future is not None
    consumer = _Consumer([_messages("a"), _messages("b", "c"), []])

    def finish_after_third_call(num: int, timeout: float) -> list[Message]:
        chunk = _Consumer.consume(consumer, num, timeout)
        if len(consumer.timeouts) == 3:
            writing.future.set_result(1)  # type: ignore[union-attr]
        return chunk

    consumer.consume = finish_after_third_call  # type: ignore[method-assign]
    _, items, _ = _Batch(consumer, 100)._gather(writing)
    assert items == ["a", "b", "c"]
    assert consumer.timeouts == [0.0, 0.005, 0.005]


def test_a_batch_stops_at_its_size_even_while_a_write_is_in_flight() -> None:
    consumer = _Consumer([_messages("a", "b"), _messages("c")])
    _, items, _ = _Batch(consumer, 3)._gather(_writing(done=False))
    assert items == ["a", "b", "c"]


def test_a_finished_write_sends_what_is_there() -> None:
    consumer = _Consumer([_messages("a"), _messages("b"), [], _messages("late")])
    _, items, _ = _Batch(consumer, 100)._gather(_writing(done=True))
    assert items == ["a", "b"]
    assert consumer.timeouts == [0.0, 0.0, 0.0]  # never waits: takes what is there


def test_a_fatal_error_after_part_of_a_batch_keeps_that_part_and_raises_next_time() -> None:
    fenced = Message(topic="t", error=KafkaError(KafkaError._FATAL, "fenced", fatal=True))
    consumer = _Consumer([_messages("a"), [fenced]])
    batch = _Batch(consumer, 100)
    _, items, _ = batch._gather(_writing(done=False))
    assert items == ["a"]
    with pytest.raises(FatalConsumerError):
        batch._gather(None)


class _Producer:
    def flush(self, timeout: float) -> int:
        return 0


class _Pipelined(_Batch):
    """`run` with writes and commits recorded: the first batch's commit waits (up to 5 s) for
    the second batch's write to have started."""

    def __init__(self, consumer: _Consumer) -> None:
        super().__init__(consumer, 2)
        self.producer = _Producer()  # type: ignore[assignment]
        self.log: list[str] = []
        self.second_started = threading.Event()

    def _subscribe(self) -> None:
        pass

    def _write_once(self, items: list[str]) -> int:
        self.log.append("write " + items[0])
        if items[0] == "c":
            self.second_started.set()
        return len(items)

    def committed(self, messages: Sequence[Message], applied_at: datetime) -> None:
        pass

    def _commit(self, offsets: list[TopicPartition]) -> None:
        if not self.log.count("commit"):
            self.log.append("second write started" if self.second_started.wait(5) else "late")
        self.log.append("commit")


def test_the_next_batch_is_written_while_the_previous_ones_offsets_commit() -> None:
    consumer = _Consumer([_messages("a", "b"), _messages("c", "d"), [], []])
    consumer.close = lambda: None  # type: ignore[attr-defined]
    sink = _Pipelined(consumer)
    sink.run(lambda: sink.log.count("commit") >= 1 and sink.second_started.is_set())
    assert sink.log == ["write a", "write c", "second write started", "commit", "commit"]
