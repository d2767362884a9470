"""The publisher's hot path against a stand-in producer: batched polls, bulk metrics, no leak."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException
from prometheus_client import REGISTRY

import producers.sdk.publisher as publisher_module
from databus.settings import Settings
from producers.sdk import Publisher, PublishError
from schemas.examples import EXAMPLES

Report = Callable[[Any, Any], None]


class _Message:
    def __init__(self, topic: str, offset: int) -> None:
        self._topic, self._offset = topic, offset

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class FakeProducer:
    """Queues each produce's report; `poll`/`flush` deliver them (like librdkafka's queue)."""

    def __init__(self, _config: dict[str, Any]) -> None:
        self.reports: list[tuple[Report, _Message]] = []
        self.polls = 0
        self.offset = 0
        self.fail_next: Exception | None = None

    def produce(self, topic: str, value: bytes, key: str, **kwargs: Any) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        if kwargs.get("on_delivery") is not None:
            self.reports.append((kwargs["on_delivery"], _Message(topic, self.offset)))
        self.offset += 1

    def poll(self, _timeout: float = 0) -> int:
        self.polls += 1
        reports, self.reports = self.reports, []
        for report, message in reports:
            report(None, message)
        return len(reports)

    def flush(self, timeout: float = 0) -> int:
        self.poll(timeout)
        return 0

    def __len__(self) -> int:
        """Messages not delivered yet (librdkafka's queue length)."""
        return len(self.reports)


class FakeEncoder:
    def encode(self, _record: object) -> bytes:
        return b"\0\0\0\0\1avro"

    def encode_data(self, _data: object) -> bytes | None:
        return None  # as before the schema id is known: every event through its model


@pytest.fixture
def publisher(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Publisher]:
    monkeypatch.setattr(publisher_module, "Producer", FakeProducer)
    settings = Settings(
        bootstrap_servers="127.0.0.1:9", registry_url="http://127.0.0.1:9", stack_dir=tmp_path
    )
    sdk = Publisher("civil-status", settings=settings, heartbeats=False)
    sdk._encoder = FakeEncoder()  # type: ignore[assignment]
    sdk._stop.set()  # no background poller: the test decides when reports are served
    sdk._poller.join(5)
    sdk._producer.polls = 0  # type: ignore[attr-defined]
    yield sdk
    sdk.close(1)


def _event(i: int) -> dict[str, Any]:
    return {**EXAMPLES["BirthRegistered"], "event_id": f"00000000-0000-4000-8000-{i:012d}"}


def _published() -> float:
    labels = {"agency": "VN/GOV/BTP/hotich", "event_type": "BirthRegistered"}
    return REGISTRY.get_sample_value("databus_events_published_total", labels) or 0.0


def test_reports_are_polled_in_batches_and_every_future_resolves(publisher: Publisher) -> None:
    producer: FakeProducer = publisher._producer  # type: ignore[assignment]
    before = _published()
    publisher._last_poll = time.monotonic() + 3600  # no poll is due while publishing
    futures = [publisher.publish(_event(i)) for i in range(500)]
    assert producer.polls == 0 and not any(f.done() for f in futures)
    report = publisher.flush(5)
    assert report.complete and report.delivered == 500
    assert [f.result(0).offset for f in futures] == list(range(500))
    assert futures[7].result(0).event_id == "00000000-0000-4000-8000-000000000007"
    assert _published() == before + 500  # added in bulk by the flush


def test_a_poll_is_due_once_the_interval_passed(publisher: Publisher) -> None:
    producer: FakeProducer = publisher._producer  # type: ignore[assignment]
    publisher._last_poll = 0.0
    future = publisher.publish(_event(1))
    assert producer.polls == 1 and future.done()


def test_a_produce_error_raises_and_leaves_nothing_pending(publisher: Publisher) -> None:
    producer: FakeProducer = publisher._producer  # type: ignore[assignment]
    producer.fail_next = KafkaException("broken")
    with pytest.raises(PublishError) as failed:
        publisher.publish(_event(2))
    assert failed.value.reason == "produce"
    assert publisher.flush(1).complete


def test_a_full_queue_waits_for_room_and_drops_nothing(publisher: Publisher) -> None:
    producer: FakeProducer = publisher._producer  # type: ignore[assignment]
    producer.fail_next = BufferError()
    future = publisher.publish(_event(3))
    assert producer.polls >= 1
    assert publisher.flush(1).delivered == 1 and future.result(0).event_id.endswith("3")
