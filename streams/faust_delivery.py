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

`lean_app` builds the `faust.App` whose consumer is a `LeanConsumer`.

**Not used by the workers.** With it, one clean-clone CI run (2026-12-07) failed two
cluster-fault scenarios (tests/integration/test_cluster_faults.py): after a partition leader
was killed, one sector row was missing; after the sink and a population sync were killed, one
record of a source partition stayed unconsumed (lag 1) for eight minutes. The run before, on
the same code, passed all five. Until that is understood, the workers keep faust's own
consumer (`raw_faust_app(lean=False)`, the default); bench/consume measures both.
"""

from __future__ import annotations

import inspect
from typing import Any

import faust
from faust.transport.drivers import aiokafka
from mode.services import WaitResults


class LeanConsumer(aiokafka.Consumer):
    """faust's aiokafka consumer, delivering records that cannot block without extra tasks."""

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


class _LeanTransport(aiokafka.Transport):
    Consumer = LeanConsumer


class _LeanApp(faust.App):
    def _new_transport(self) -> Any:
        return _LeanTransport(self.conf.broker_consumer, self)


def lean_app(name: str, **settings: Any) -> faust.App:
    """A `faust.App` (`kafka://` broker) whose consumer is a `LeanConsumer`."""
    return _LeanApp(name, **settings)
