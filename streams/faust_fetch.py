"""faust's aiokafka consumer with a fetch wait the bus chooses instead of faust's 1.5 s.

faust-streaming builds its worker consumer with `fetch_max_wait_ms=1500`, fixed in the code
(`AIOKafkaConsumerThread._create_worker_consumer`). aiokafka's fetcher keeps one fetch request
in flight per broker, and leaves out of the next request every partition whose records are
still waiting in its buffer. So when the stream drains a busy partition just after the next
request went out without it, that request holds only idle partitions: the broker keeps it for
the whole wait, and the busy partition is fetched again only after it, up to 1.5 s later.
bench/e2e at 1,000 events/s showed it as stretches of tens of seconds in which the population
sync applied every event 1-1.8 s after it was published (p50 882 ms, p99 1,982 ms publish ->
sector row); with a 100 ms wait, p50 95 ms and p99 385 ms (docs/benchmarks.md).

The cost of a shorter wait is one fetch request per `FETCH_MAX_WAIT_MS` per idle consumer.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka

FETCH_MAX_WAIT_MS = 100
"""The longest the broker holds a fetch request of a bus worker when no requested partition
has new records: also the longest a busy partition can wait behind such a request."""


class FetchWaitConsumerThread(aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, whose aiokafka consumer fetches with `FETCH_MAX_WAIT_MS`."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps the setting until `start()` hands it to the fetcher it builds there
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class FetchWaitConsumer(aiokafka.Consumer):
    """faust's aiokafka consumer on a `FetchWaitConsumerThread`."""

    def _new_consumer_thread(self) -> Any:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


def app_with_consumer(consumer: type[aiokafka.Consumer], name: str, **settings: Any) -> faust.App:
    """A `faust.App` (`kafka://` broker, `settings`) whose transport builds `consumer`."""
    transport = type(f"{consumer.__name__}Transport", (aiokafka.Transport,), {"Consumer": consumer})

    class _App(faust.App):
        def _new_transport(self) -> Any:
            return transport(self.conf.broker_consumer, self)

    return _App(name, **settings)


def fetch_wait_app(name: str, **settings: Any) -> faust.App:
    """A `faust.App` whose consumer is a `FetchWaitConsumer`: faust's own delivery and commits,
    the bus's fetch wait."""
    return app_with_consumer(FetchWaitConsumer, name, **settings)
