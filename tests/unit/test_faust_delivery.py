"""The lean consumer awaits a record's delivery directly only when faust's own wait could not
have given it up; in every other case faust's `wait_first` runs as faust wrote it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faust.types import TP
from mode import Service

from streams.faust_app import raw_faust_app
from streams.faust_delivery import LeanConsumer

PARTITION = TP("civilstatus.events.v1", 0)


class _Channel:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue(maxsize=size)


class _Record:
    tp = PARTITION


def _streams_of(app: Any) -> Any:
    """The conductor's channels by partition, which the consumer looks at."""
    return app.topics._tp_index


@pytest.fixture
def ran() -> list[str]:
    """The records the consumer delivered to its streams."""
    return []


@pytest.fixture
async def consumer(ran: list[str]) -> AsyncIterator[LeanConsumer]:
    """The workers' consumer (not started; made in the test's event loop), its flow running
    and one stream buffer of two records on PARTITION, delivering into `ran` instead of
    faust's conductor."""
    app = raw_faust_app("g", "127.0.0.1:9", batch_size=10, lean=True)

    async def deliver(record: Any) -> str:
        ran.append("delivered")
        return "done"

    found = app.transport.create_consumer(
        callback=deliver,
        on_partitions_revoked=app._on_partitions_revoked,
        on_partitions_assigned=app._on_partitions_assigned,
        beacon=app.beacon,
    )
    assert isinstance(found, LeanConsumer)
    found.flow_active = True
    found.suspend_flow.clear()
    app.flow_control.resume()
    _streams_of(app)[PARTITION] = {_Channel(size=2)}
    yield found


@pytest.fixture
def faust_waits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The calls that reached faust's own `wait_first` (which then runs as usual)."""
    calls: list[tuple[Any, ...]] = []
    original = Service.wait_first

    async def recorded(self: Service, *coros: Any, timeout: Any = None) -> Any:
        calls.append(coros)
        return await original(self, *coros, timeout=timeout)

    monkeypatch.setattr(Service, "wait_first", recorded)
    return calls


async def _fetch_loop_step(consumer: LeanConsumer) -> Any:
    """What faust's fetch loop does for one record: `wait_first(callback(record), flow)`."""
    record: Any = _Record()
    return await consumer.wait_first(consumer.callback(record), consumer.suspend_flow.wait())


async def test_a_delivery_that_cannot_block_is_awaited_without_faust_wait(
    consumer: LeanConsumer, faust_waits: list[tuple[Any, ...]], ran: list[str]
) -> None:
    result = await _fetch_loop_step(consumer)
    assert ran == ["delivered"]
    assert result.results == ["done"] and not result.stopped
    assert faust_waits == []


@pytest.mark.parametrize(
    "blocker",
    ["flow stopped", "flow suspended", "buffer full", "no stream for the partition", "paused"],
)
async def test_a_delivery_that_could_block_goes_through_faust_wait(
    consumer: LeanConsumer, faust_waits: list[tuple[Any, ...]], blocker: str
) -> None:
    if blocker == "flow stopped":
        consumer.flow_active = False
    elif blocker == "flow suspended":
        consumer.suspend_flow.set()
    elif blocker == "buffer full":
        [channel] = _streams_of(consumer.app)[PARTITION]
        channel.queue.put_nowait(1)
        channel.queue.put_nowait(2)
    elif blocker == "no stream for the partition":
        del _streams_of(consumer.app)[PARTITION]
    else:
        consumer.app.flow_control.suspend()
    await _fetch_loop_step(consumer)
    assert len(faust_waits) == 1


async def test_any_other_wait_is_faust_own(
    consumer: LeanConsumer, faust_waits: list[tuple[Any, ...]], ran: list[str]
) -> None:
    """A wait that is not the fetch loop's delivery of the record just recorded (another
    caller, or a coroutine other than the one the callback made) is never short-cut."""
    record: Any = _Record()
    recorded: Any = consumer.callback(record)  # recorded, then not the one awaited
    try:
        await consumer.wait_first(asyncio.sleep(0, "other"), consumer.suspend_flow.wait())
        await consumer.wait_first(asyncio.sleep(0, "slept"))
    finally:
        recorded.close()
    assert len(faust_waits) == 2 and ran == []


def test_the_workers_keep_faust_own_consumer_and_the_bench_can_opt_in() -> None:
    """The lean consumer is withdrawn from the workers (see `streams.faust_delivery`)."""
    workers = raw_faust_app("g", "127.0.0.1:9", batch_size=10).consumer
    assert not isinstance(workers, LeanConsumer)
    lean = raw_faust_app("g", "127.0.0.1:9", batch_size=10, lean=True).consumer
    assert isinstance(lean, LeanConsumer)
