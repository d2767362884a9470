"""The faust app every stream processor starts from."""

from __future__ import annotations

import asyncio

from streams.faust_app import METADATA_MAX_AGE_MS, raw_faust_app
from streams.faust_fetch import FETCH_MAX_WAIT_MS, FetchWaitConsumerThread


def test_consumers_refresh_their_metadata_within_seconds_not_minutes() -> None:
    """aiokafka retries a failed offset fetch on the same broker until its metadata ages out:
    after a leader moved, a worker waits that long (5 minutes by faust's default)."""
    app = raw_faust_app("g", "127.0.0.1:9", batch_size=10)
    assert app.conf.consumer_metadata_max_age_ms == METADATA_MAX_AGE_MS <= 30_000


def test_workers_fetch_with_the_bus_wait_not_fausts_one_and_a_half_seconds() -> None:
    """With faust's fixed 1.5 s, a busy partition left out of an in-flight fetch of idle ones
    waited up to 1.5 s (bench/e2e: p99 1,982 ms at 1,000 events/s); the aiokafka consumer
    faust builds for a worker must carry the bus's wait."""

    async def fetch_wait(lean: bool) -> int:
        app = raw_faust_app("g", "127.0.0.1:9", batch_size=10, lean=lean)
        thread = getattr(app.consumer, "_thread")  # noqa: B009 (faust types it away)
        assert isinstance(thread, FetchWaitConsumerThread)
        wait: int = thread._create_worker_consumer(app.transport)._fetch_max_wait_ms
        return wait

    for lean in (False, True):
        assert asyncio.run(fetch_wait(lean)) == FETCH_MAX_WAIT_MS <= 100
