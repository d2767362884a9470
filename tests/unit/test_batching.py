"""streams.batching.adaptive_batches over a fake faust stream (no Kafka)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streams.batching import ack_events, adaptive_batches


class FakeStream:
    """What adaptive_batches uses of a faust Stream: processors run by a passive drainer that
    sets `current_event`, `wait`/`wait_for_stopped` that end early on stop, `ack`."""

    def __init__(self) -> None:
        self.enable_acks = True
        self._processors: list[Any] = []
        self.current_event: Any = None
        self.should_stop = False
        self.channel = self
        self.queue: asyncio.Queue[int] = asyncio.Queue()
        self.drained = 0
        self.acked: list[int] = []
        self._stopped = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None

    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> int:
        return await self.queue.get()

    def add_processor(self, processor: Any) -> None:
        self._processors.append(processor)

    def _enable_passive(self, channel: Any) -> None:
        assert channel is self
        self._drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while not self.should_stop:
            event = await self.queue.get()
            self.current_event = event
            value: Any = event
            for processor in list(self._processors):
                value = await processor(value)
            self.current_event = None
            self.drained += 1

    async def wait(self, event: asyncio.Event, timeout: float | None = None) -> bool:
        """True when stopped first."""
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._wait_stop())]
        _done, pending = await asyncio.wait(
            waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return self.should_stop

    async def _wait_stop(self) -> None:
        await self._stopped.wait()

    async def wait_for_stopped(self, event: asyncio.Event, timeout: float | None = None) -> bool:
        return await self.wait(event, timeout)

    async def ack(self, event: int) -> None:
        self.acked.append(event)

    def publish(self, *events: int) -> None:
        for event in events:
            self.queue.put_nowait(event)

    async def stop(self) -> None:
        self.should_stop = True
        self._stopped.set()
        if self._drainer is not None:
            self._drainer.cancel()
            await asyncio.gather(self._drainer, return_exceptions=True)


async def _next(batches: AsyncIterator[list[Any]], timeout: float = 2.0) -> list[Any]:
    return await asyncio.wait_for(batches.__anext__(), timeout)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_idle_agent_gets_one_event_at_once() -> None:
    stream = FakeStream()
    batches = adaptive_batches(stream, 500)
    stream.publish(1)
    started = time.monotonic()
    assert await _next(batches) == [1]
    assert time.monotonic() - started < 0.1
    assert stream.enable_acks is False
    assert stream.acked == []  # the agent acknowledges, not the generator
    await batches.aclose()
    assert stream.enable_acks is True
    assert stream._processors == []
    await stream.stop()


async def test_buffering_goes_on_while_the_agent_works_and_the_next_batch_is_what_came() -> None:
    stream = FakeStream()
    batches = adaptive_batches(stream, 500)
    stream.publish(1)
    first = await _next(batches)
    assert first == [1]
    stream.publish(*range(2, 40))  # arrive while the agent "applies" the first batch
    await _settle()
    assert stream.drained == 39  # buffered in the background, not held in the channel
    await ack_events(stream, first)
    assert await _next(batches) == list(range(2, 40))
    assert stream.acked == [1]
    await batches.aclose()
    await stream.stop()


async def test_batches_hold_at_most_max_events_in_order() -> None:
    stream = FakeStream()
    batches = adaptive_batches(stream, 10)
    stream.publish(0)
    assert await _next(batches) == [0]
    stream.publish(*range(1, 26))
    await _settle()
    got = [await _next(batches) for _ in range(3)]
    assert got == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    await batches.aclose()
    await stream.stop()


async def test_the_buffer_is_bounded_at_two_batches() -> None:
    stream = FakeStream()
    batches = adaptive_batches(stream, 3)
    stream.publish(0)
    assert await _next(batches) == [0]
    stream.publish(*range(1, 21))
    await _settle()
    assert stream.queue.qsize() == 20 - 6  # the drainer waits with a full buffer (2 * max_)
    assert await _next(batches) == [1, 2, 3]
    await _settle()
    assert stream.queue.qsize() == 20 - 9  # room again: buffering resumed
    assert await _next(batches) == [4, 5, 6]
    await batches.aclose()
    await stream.stop()


async def test_linger_spaces_batches_out_but_an_idle_first_event_goes_at_once() -> None:
    stream = FakeStream()
    batches = adaptive_batches(stream, 3, linger=0.2)
    stream.publish(0)
    started = time.monotonic()
    assert await _next(batches) == [0]
    assert time.monotonic() - started < 0.1
    stream.publish(1)

    async def later() -> None:
        await asyncio.sleep(0.05)
        stream.publish(2)

    task = asyncio.ensure_future(later())
    assert await _next(batches) == [1, 2]
    assert time.monotonic() - started >= 0.19
    await task
    stream.publish(3, 4, 5)
    await _settle()
    started = time.monotonic()
    assert await _next(batches) == [3, 4, 5]  # a full batch goes at once, linger or not
    assert time.monotonic() - started < 0.1
    await batches.aclose()
    await stream.stop()


async def test_stop_ends_the_batches() -> None:
    stream = FakeStream()
    batches = adaptive_batches(stream, 10)
    waiting = asyncio.ensure_future(_next(batches))
    await asyncio.sleep(0.05)
    await stream.stop()
    with pytest.raises(StopAsyncIteration):
        await waiting
    assert stream.enable_acks is True


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        asyncio.run(_first(adaptive_batches(FakeStream(), 0)))
    with pytest.raises(ValueError):
        asyncio.run(_first(adaptive_batches(FakeStream(), 1, linger=-1)))


async def _first(batches: AsyncIterator[list[Any]]) -> list[Any]:
    return await batches.__anext__()
