"""The lean consumer awaits a record's delivery directly only when faust's own wait could not
have given it up; in every other case faust's `wait_first` runs as faust wrote it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from mode import Service

from streams.batching import PROCESSED, ack_events
from streams.faust_app import raw_faust_app
from streams.faust_delivery import BusConsumer, LeanConsumer, bus_app

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

    found = _consumer_of(app, deliver)
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


def test_the_workers_use_the_lean_consumer_and_the_benches_can_opt_out() -> None:
    """The workers deliver without faust's four tasks per record and commit as the bus does;
    faust's own consumer stays available as the benches' baseline."""
    workers = raw_faust_app("g", "127.0.0.1:9", batch_size=10).consumer
    assert isinstance(workers, LeanConsumer)
    assert isinstance(workers, BusConsumer)
    own = raw_faust_app("g", "127.0.0.1:9", batch_size=10, lean=False).consumer
    assert not isinstance(own, BusConsumer)


# ------------------------------------------------------------------------ commits


def _message(offset: int, generation: int = 1) -> Any:
    return ConsumerMessage(
        PARTITION.topic,
        PARTITION.partition,
        offset,
        0.0,
        0,
        None,
        None,
        b"v",
        None,
        tp=PARTITION,
        generation_id=generation,
    )


@pytest.fixture
async def bus() -> AsyncIterator[BusConsumer]:
    """The bus's commits (`BusConsumer`, not started), generation 1, the flow running,
    PARTITION sought to offset 10 (its committed offset)."""
    app = bus_app("g", broker="kafka://127.0.0.1:9")
    found = _consumer_of(app, _never_called)
    assert isinstance(found, BusConsumer)
    app.consumer_generation_id = 1
    app.flow_control.resume()
    app.topics.acks_enabled_for = lambda topic: True  # type: ignore[method-assign]
    found._next_commit[PARTITION] = 10
    found._committed_offset[PARTITION] = 10
    yield found


def _consumer_of(app: Any, deliver: Any) -> Any:
    """The consumer `app`'s transport builds (not started), delivering to `deliver`."""
    return app.transport.create_consumer(
        callback=deliver,
        on_partitions_revoked=app._on_partitions_revoked,
        on_partitions_assigned=app._on_partitions_assigned,
        beacon=app.beacon,
    )


async def _never_called(message: Any) -> None:
    raise AssertionError("no delivery in these tests")


async def _processed(consumer: BusConsumer, *offsets: int, generation: int = 1) -> None:
    """The agent's acknowledgement (`ack_events`) of these records, after its work."""
    stream = SimpleNamespace(ack=_acker(consumer))
    await ack_events(stream, [SimpleNamespace(message=_message(o, generation)) for o in offsets])


def _acker(consumer: BusConsumer) -> Any:
    async def ack(event: Any) -> bool:
        return bool(event.message.ack(consumer))

    return ack


async def test_commits_run_from_the_committed_offset(bus: BusConsumer) -> None:
    await _processed(bus, 10, 11, 12)
    assert bus._new_offset(PARTITION) == 13
    await _processed(bus, 13)
    assert bus._new_offset(PARTITION) == 14


async def test_a_missing_head_record_of_one_is_not_committed_past(bus: BusConsumer) -> None:
    """faust's check (`min(acked) - committed > 1`) let exactly this hole through."""
    await _processed(bus, 11, 12)
    assert bus._new_offset(PARTITION) is None
    await _processed(bus, 10)
    assert bus._new_offset(PARTITION) == 13


async def test_a_hole_is_not_committed_past_once_a_rebalance_forgot_the_offset(
    bus: BusConsumer,
) -> None:
    """faust pops its committed offset when partitions are revoked, and then commits any run
    of acknowledged offsets (while the revocation waits for the agents)."""
    bus._committed_offset.pop(PARTITION)
    await _processed(bus, 12, 13)
    assert bus._new_offset(PARTITION) is None


async def test_a_record_the_stream_skipped_is_not_counted(bus: BusConsumer) -> None:
    """faust's stream acknowledges an event it skips (flow stopped by a rebalance) without
    handing it to the agent: not processed, not done."""
    bus.app.flow_control.suspend()
    assert not _message(10).ack(bus)  # faust's stream acks it this way
    assert bus._new_offset(PARTITION) is None
    await _processed(bus, 11)  # the agent's acknowledgements still count then
    assert bus._acked[PARTITION] == [11]


async def test_a_record_of_an_earlier_generation_is_not_counted(bus: BusConsumer) -> None:
    """Fetched before a rebalance, it is read again after it (from the committed offset)."""
    await _processed(bus, 10, generation=0)
    assert bus._new_offset(PARTITION) is None
    assert not bus._acked[PARTITION]


async def test_offsets_skipped_in_the_reading_are_not_counted_as_done(bus: BusConsumer) -> None:
    """faust marks a hole between two records read as done, the second one included."""
    await _processed(bus, 10)
    await bus._add_gap(PARTITION, 11, 15)
    await _processed(bus, 16)
    assert bus._new_offset(PARTITION) == 11
    assert bus._new_offset(PARTITION) is None


async def test_ack_events_marks_the_records_processed() -> None:
    acked: list[Any] = []

    async def ack(event: Any) -> None:
        acked.append(event)

    events = [SimpleNamespace(message=SimpleNamespace()) for _ in range(2)]
    await ack_events(SimpleNamespace(ack=ack), events)
    assert acked == events
    assert all(getattr(e.message, PROCESSED) for e in events)


def test_both_consumers_commit_as_the_bus_does() -> None:
    assert issubclass(LeanConsumer, BusConsumer)
    assert isinstance(bus_app("g", broker="kafka://127.0.0.1:9").consumer, BusConsumer)


async def test_a_missing_head_is_read_again_from_where_it_is(bus: BusConsumer) -> None:
    sought: list[tuple[Any, int]] = []

    async def earliest(*tps: Any) -> dict[Any, int]:
        return dict.fromkeys(tps, 0)

    async def seek(tp: Any, offset: int) -> None:
        sought.append((tp, offset))

    bus.earliest_offsets = earliest  # type: ignore[method-assign]
    bus.seek = seek  # type: ignore[method-assign,assignment]
    await bus._read_head_again(PARTITION, 10)
    assert sought == [(PARTITION, 10)]
    assert bus._next_commit[PARTITION] == 10


async def test_a_head_deleted_unread_is_committed_past_not_sought_forever(bus: BusConsumer) -> None:
    """Kafka resets a partition whose committed offset fell below the log start to its
    earliest record; seeking back below it again would never end."""
    sought: list[int] = []

    async def earliest(*tps: Any) -> dict[Any, int]:
        return dict.fromkeys(tps, 25)

    async def seek(tp: Any, offset: int) -> None:
        sought.append(offset)

    bus.earliest_offsets = earliest  # type: ignore[method-assign]
    bus.seek = seek  # type: ignore[method-assign,assignment]
    await _processed(bus, 25, 26)
    await bus._read_head_again(PARTITION, 10)
    assert sought == []
    assert bus._new_offset(PARTITION) == 27


async def test_a_partition_without_a_committed_offset_is_sought_to_its_earliest(
    bus: BusConsumer,
) -> None:
    """aiokafka's seek to the committed offset leaves such a partition where its fetcher got
    to; records faust took from it and dropped (fetched while the flow was stopped, before
    its seek) would never come again. Two cluster-fault runs with the lean consumer lost a
    whole partition that way."""
    other = TP(PARTITION.topic, PARTITION.partition + 1)
    sought: list[tuple[Any, int]] = []

    async def committed() -> dict[Any, int | None]:
        return {PARTITION: 7, other: None}

    async def earliest(*tps: Any) -> dict[Any, int]:
        assert tps == (other,)
        return {other: 3}

    async def seek(tp: Any, offset: int) -> None:
        sought.append((tp, offset))

    bus.seek_to_committed = committed  # type: ignore[method-assign,assignment]
    bus.assignment = lambda: {PARTITION, other}  # type: ignore[method-assign]
    bus.earliest_offsets = earliest  # type: ignore[method-assign]
    bus.seek = seek  # type: ignore[method-assign,assignment]
    await bus.perform_seek()
    assert sought == [(other, 3)]
    assert bus._next_commit == {PARTITION: 7, other: 3}
