"""A faust consumer that hands a fetched record to its stream without four tasks per record.

faust-streaming's fetch loop (`Consumer._drain_messages`) delivers every record as
`await self.wait_first(callback(record), self.suspend_flow.wait())`. That way a delivery
blocked on a full stream buffer is given up when a rebalance stops the flow. `wait_first`
wraps the delivery, the flow event and the consumer's stopped and crashed events in four tasks,
waits for the first, and cancels the other three. bench/consume measured 184 µs of CPU per
record for a worker that does nothing with its records, 166 µs of them in the event loop. A
plain confluent-kafka consumer needs 1 µs per record.

`LeanConsumer` keeps faust's loop and changes only that call, and only when the delivery cannot
block: the flow is running, not suspended, and every stream buffer of the record's partition
has room. The delivery then runs at once, awaited directly. Nothing else can run between the
check and the end of the delivery: it awaits nothing that waits. In any other case, or with a
faust that calls it otherwise, `wait_first` runs as faust wrote it. bench/consume measured
70 µs per record with the change.

`lean_app` builds the `faust.App` whose consumer is a `LeanConsumer`, with the commits of
`BusConsumer` (below): the workers' consumer (`raw_faust_app`, `lean=True` by default). It was
off the workers for two sessions while two faults in faust's bookkeeping, not in the delivery,
were found (docs/architecture.md, docs/benchmarks.md): the commits below, and a newly assigned
partition without a committed offset left unread (faust drops records it fetched while a
rebalance stopped the flow and relies on a seek to the committed offset that aiokafka skips for
such a partition; `perform_seek` below).

**Commits.** `BusConsumer` (faust's own delivery) and `LeanConsumer` (the lean one) replace how
faust decides which offsets may be committed. faust counts as done, besides the records an
agent acknowledged after its work: records its stream skipped without handing them to the
agent (fetched before a rebalance, or taken while the flow was stopped: the stream acks them),
and "gaps" in the offsets it read, the record after the gap included, before it is delivered.
Its commit check lets a hole of exactly one record at the head through, and checks nothing
while a revocation has forgotten the committed offset (it commits whatever run was acknowledged
while the revocation waits for the agents). bench/rebalance_churn (a group churned while
records flow) once lost 200 records this way with the lean consumer (a record run never handed
to the agent, then committed past during the revocation). `BusConsumer` counts only
acknowledgements of the current group generation, of records the agent acknowledged after its
work (`streams.batching.ack_events` marks them) or taken while the flow ran, and commits only
a run of them contiguous from where the partition was sought to (its committed offset, else
its earliest, where a partition without a committed offset is also sought to). A partition
whose next record never comes while later ones are processed is sought back to it, to be read
again instead of staying at a lag. `raw_faust_app` builds `LeanConsumer` (unless
`lean=False`); `bus_app` builds an app with `BusConsumer`.

**Limits.** Offsets are taken to be dense: no faust agent of the bus reads a compacted topic or
one written in transactions (control records take offsets), where holes are normal and the
head check would keep reading them again. Records deleted unread (the committed offset fell
below the log start) are logged and committed past, as Kafka's reset to the earliest offset
reads past them.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import faust
from faust.transport.drivers import aiokafka
from faust.types.tuples import ack_lock
from mode import Service
from mode.services import WaitResults
from mode.utils.futures import notify

from streams.batching import PROCESSED
from streams.faust_fetch import FetchWaitConsumer, app_with_consumer

log = logging.getLogger(__name__)

HEAD_CHECK_SECONDS = 5.0
"""How often a partition whose next record to commit is missing (later ones acknowledged) is
looked at; missing at two looks in a row, it is sought back to that record."""


class BusConsumer(FetchWaitConsumer):
    """faust's aiokafka consumer, committing only offsets below which every record was
    processed (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # per partition, since its last seek: the offset the next commit must start from
        # (None: not known yet, the first record delivered in this generation decides)
        self._next_commit: dict[Any, int | None] = {}
        self._missing_head: dict[Any, int] = {}  # partition -> head found missing last look
        deliver = self.callback

        def delivering(message: Any) -> Any:
            tp = message.tp
            if (
                tp in self._next_commit
                and self._next_commit[tp] is None
                and message.generation_id == self.app.consumer_generation_id
            ):
                self._next_commit[tp] = message.offset
            return deliver(message)

        self.callback = delivering

    # --------------------------------------------------------------- what counts as done

    def _counts(self, message: Any) -> bool:
        """Whether `message`'s acknowledgement means it was processed, in this generation."""
        if message.generation_id != self.app.consumer_generation_id:
            return False  # fetched before a rebalance; read again after it
        if getattr(message, PROCESSED, False):
            return True  # acknowledged by `ack_events`, after the agent's work
        return bool(self.app.flow_control.is_active())  # faust acks a skipped one otherwise

    def ack(self, message: Any) -> bool:
        """faust's `Consumer.ack`, counting only acknowledgements of processed records."""
        with ack_lock:
            if message.acked:
                return False
            message.acked = True
            self._unacked_messages.discard(message)
            try:
                if not self._counts(message):
                    return False
                if not self.app.topics.acks_enabled_for(message.topic):
                    return False
                tp, offset = message.tp, message.offset
                start = self._next_commit.get(tp)
                if start is not None and offset < start:
                    return False
                index = self._acked_index[tp]
                if offset in index:
                    return False
                index.add(offset)
                self._acked[tp].append(offset)
                self._n_acked += 1
                return True
            finally:
                notify(self._waiting_for_ack)

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        """Offsets skipped between two records read are NOT counted as done: the bus reads
        no compacted or transactional topic, so a hole there is records faust did not
        deliver (it would also count the record after the hole, not yet processed)."""
        log.warning(
            "%s: offsets %d..%d were not delivered; they are not committed past",
            tp,
            offset_from,
            offset_to - 1,
        )

    def _new_offset(self, tp: Any) -> int | None:
        """The offset to commit: the end of the run of processed records that starts where
        the partition was sought to (or the previous commit); None if that record is not
        processed yet."""
        with ack_lock:
            acked = self._acked[tp]
            start = self._next_commit.get(tp)
            if not acked or start is None:
                return None
            acked.sort()
            index = self._acked_index[tp]
            stale = 0
            while stale < len(acked) and acked[stale] < start:
                stale += 1
            if stale:
                index.difference_update(acked[:stale])
                del acked[:stale]
            end = start
            while end - start < len(acked) and acked[end - start] == end:
                end += 1
            if end == start:
                return None
            index.difference_update(acked[: end - start])
            del acked[: end - start]
            self._next_commit[tp] = end
            return end

    def _should_commit(self, tp: Any, offset: int) -> bool:
        """`_new_offset` only grows within a generation; faust's own check compares with a
        committed offset a commit finishing after a rebalance may have overwritten."""
        return True

    # --------------------------------------------------------------- where a run starts

    async def perform_seek(self) -> None:
        """faust's seek to the committed offsets, starting a new run per partition there; a
        partition without a committed offset is sought to its earliest (aiokafka's seek leaves
        it where its fetcher got to, past records faust took and dropped)."""
        await super().perform_seek()
        assignment = set(self.assignment())
        starts: dict[Any, int | None] = {}
        for tp in assignment:
            offset = self._read_offset.get(tp)
            starts[tp] = offset if offset is not None and offset > 0 else None
        unknown = [tp for tp, start in starts.items() if start is None]
        if unknown:
            try:
                earliest = await self.earliest_offsets(*unknown)
            except Exception as error:  # the first record delivered decides then
                log.warning("earliest offsets unavailable (%r)", error)
            else:
                for tp in unknown:
                    start = starts[tp] = earliest.get(tp)
                    if start is not None:
                        await self.seek(tp, start)
        with ack_lock:
            for tp in list(self._next_commit):
                if tp not in assignment:
                    del self._next_commit[tp]
            for tp, start in starts.items():
                self._acked.pop(tp, None)
                self._acked_index.pop(tp, None)
                self._gap.pop(tp, None)
                self._next_commit[tp] = start
            self._missing_head.clear()

    @Service.task
    async def _head_check(self) -> None:
        """Seek a partition back to its next record to commit when that record is missing
        while later ones were processed (faust dropped it on the way): read it again."""
        while not self.should_stop:
            await self.sleep(HEAD_CHECK_SECONDS)
            if self.should_stop:
                break
            if not self.flow_active or self.app.rebalancing:
                self._missing_head.clear()
                continue
            missing: dict[Any, int] = {}
            with ack_lock:
                assignment = set(self.assignment())
                for tp, start in self._next_commit.items():
                    acked = self._acked.get(tp)
                    if start is not None and tp in assignment and acked and min(acked) > start:
                        missing[tp] = start
            for tp, start in missing.items():
                if self._missing_head.get(tp) == start:
                    await self._read_head_again(tp, start)
            self._missing_head = missing

    async def _read_head_again(self, tp: Any, start: int) -> None:
        """Seek `tp` back to `start`, its missing next record; if the log no longer holds it
        (retention deleted it unread), the run starts at the log's earliest record instead."""
        try:
            earliest = (await self.earliest_offsets(tp)).get(tp)
        except Exception as error:  # the next look tries again
            log.warning("%s: earliest offset unavailable (%r)", tp, error)
            return
        if earliest is not None and earliest > start:
            log.warning("%s: offsets %d..%d were deleted unread", tp, start, earliest - 1)
            with ack_lock:
                if self._next_commit.get(tp) == start:
                    self._next_commit[tp] = earliest
            return
        log.warning("%s: offset %d never came; reading again from it", tp, start)
        await self.seek(tp, start)


def bus_app(name: str, **settings: Any) -> faust.App:
    """A `faust.App` (`kafka://` broker) whose consumer is a `BusConsumer`: faust's delivery,
    the bus's commits."""
    return app_with_consumer(BusConsumer, name, **settings)


class LeanDelivery(aiokafka.Consumer):
    """faust's delivery of a record that cannot block without extra tasks (see the module);
    a mixin ahead of the consumer class it changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._delivering: tuple[Any, Any] | None = None
        deliver = self.callback

        def recorded(message: Any) -> Any:
            """faust's delivery of `message`, remembered for the `wait_first` that awaits it."""
            delivery = deliver(message)
            self._delivering = (message, delivery)
            return delivery

        self.callback = recorded

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        """Await a record's delivery directly when it cannot block (see the module); otherwise
        faust's own `wait_first`."""
        delivering, self._delivering = self._delivering, None
        if (
            delivering is not None
            and len(coros) == 2
            and timeout is None
            and coros[0] is delivering[1]
            and self._delivers_at_once(delivering[0].tp)
        ):
            if inspect.iscoroutine(coros[1]):
                coros[1].close()  # the flow's wait, never started
            return WaitResults([coros[0]], [await coros[0]], False)
        return await super().wait_first(*coros, timeout=timeout)

    def _delivers_at_once(self, tp: Any) -> bool:
        """Whether a record of `tp` would be taken now: the flow runs and its streams'
        buffers have room."""
        if not self.flow_active or self.suspend_flow.is_set() or self.should_stop:
            return False
        app = self.app
        if not app.flow_control.is_active():
            return False
        channels = getattr(app.topics, "_tp_index", {}).get(tp)
        if not channels:
            return False
        return not any(channel.queue.full() for channel in channels)


class LeanConsumer(LeanDelivery, BusConsumer):
    """The `BusConsumer` with the lean delivery."""


def lean_app(name: str, **settings: Any) -> faust.App:
    """A `faust.App` (`kafka://` broker) whose consumer is a `LeanConsumer`."""
    return app_with_consumer(LeanConsumer, name, **settings)
