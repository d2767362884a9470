"""Adaptive batches for the faust agents: group commit instead of a fixed batch window.

    async for events in adaptive_batches(stream, max_=500):
        await apply(events)          # one batch at a time, in order
        await ack_events(stream, events)   # only after the batch is durable

Faust's `take`/`noack_take` wait a fixed `within` window (restarted after every batch) even
when events are waiting, and stop buffering while the agent works on a batch. Here, built on the
same faust mechanism (a processor on the stream that appends `stream.current_event` to a
buffer, the stream consumed passively in the background, acks disabled):

- the background buffering never stops while the agent works; it pauses only while the buffer
  holds `2 * max_` events (backpressure), and resumes as soon as the agent takes a batch;
- a batch is handed out as soon as the buffer is non-empty and the agent asks for one: an idle
  agent gets a single event at once; under load, the next batch is whatever accumulated while
  the previous one was applied (up to `max_`);
- `linger` (seconds, default 0) spaces batches out: a batch of fewer than `max_` events is
  handed out no sooner than `linger` seconds after the previous one was. An idle agent's first
  event still goes at once (the previous batch is long past); a busy agent takes at most
  1/`linger` batches a second, so the fixed cost of a batch (a transaction, a flush) cannot eat
  the CPU the other processes of the path need. It is also the longest extra wait of any event;
- nothing is acknowledged here: the agent acknowledges a batch's events (`ack_events`) once
  its work is durable, so offsets never pass an event that was not applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, Sequence
from typing import Any

PROCESSED = "databus_processed"
"""Set (True) on a faust message `ack_events` acknowledges: the agent processed it. The bus's
consumers (`streams.faust_delivery`) count such an acknowledgement even while a rebalance stops
the flow; faust's stream also acknowledges records it skipped unprocessed then."""

POLL_STOPPED = 1.0
"""Seconds between checks of `stream.should_stop` while the buffer stays empty."""


class _Buffer:
    """Events taken off the stream in the background, waiting for the agent."""

    def __init__(self, stream: Any, max_: int) -> None:
        self.stream = stream
        self.max = max_
        self.limit = 2 * max_
        self.events: list[Any] = []
        self.arrived = asyncio.Event()  # non-empty
        self.filled = asyncio.Event()  # holds a full batch
        self.room = asyncio.Event()  # below its limit
        self.room.set()

    async def add(self, value: Any) -> Any:
        """The stream processor: keep the current event; wait while the buffer is full."""
        event = self.stream.current_event
        if event is None:
            raise RuntimeError("adaptive_batches found no current event")
        self.events.append(event)
        self.arrived.set()
        if len(self.events) >= self.max:
            self.filled.set()
        while len(self.events) >= self.limit and not self.stream.should_stop:
            self.room.clear()
            await self.stream.wait(self.room)  # returns early when the stream stops or crashes
        return value

    async def linger(self, seconds: float) -> None:
        """Wait up to `seconds` for a full batch."""
        if seconds <= 0 or len(self.events) >= self.max:
            return
        self.filled.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.filled.wait(), seconds)

    def take(self) -> list[Any]:
        """The oldest events, up to a batch; buffering resumes if it waited."""
        batch = self.events[: self.max]
        del self.events[: self.max]
        if len(self.events) < self.max:
            self.filled.clear()
        if len(self.events) < self.limit:
            self.room.set()
        return batch


async def adaptive_batches(
    stream: Any, max_: int, linger: float = 0.0
) -> AsyncGenerator[list[Any], None]:
    """Batches of up to `max_` faust events of `stream`, in order, as soon as there are any.

    The caller must acknowledge every event it was given (`ack_events`), after its work."""
    if max_ < 1:
        raise ValueError("max_ must be at least 1")
    if linger < 0:
        raise ValueError("linger must not be negative")
    buffer = _Buffer(stream, max_)
    loop = asyncio.get_running_loop()
    previous = -math.inf  # when the previous batch was handed out
    enable_acks = stream.enable_acks
    stream.enable_acks = False  # the agent acknowledges each batch after its work
    stream.add_processor(buffer.add)
    stream._enable_passive(aiter(stream.channel))  # as faust's own take()
    try:
        while not stream.should_stop:
            if not buffer.events:
                buffer.arrived.clear()
                await stream.wait_for_stopped(buffer.arrived, timeout=POLL_STOPPED)
                continue
            if linger:
                await buffer.linger(previous + linger - loop.time())
            previous = loop.time()
            yield buffer.take()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(buffer.add)
        buffer.room.set()


async def ack_events(stream: Any, events: Sequence[Any]) -> None:
    """Acknowledge a batch's events (their offsets may then be committed)."""
    for event in events:
        with contextlib.suppress(AttributeError):  # a message without attributes of its own
            setattr(event.message, PROCESSED, True)
        await stream.ack(event)
