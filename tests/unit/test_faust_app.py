"""The faust app every stream processor starts from."""

from __future__ import annotations

from streams.faust_app import METADATA_MAX_AGE_MS, raw_faust_app


def test_consumers_refresh_their_metadata_within_seconds_not_minutes() -> None:
    """aiokafka retries a failed offset fetch on the same broker until its metadata ages out:
    after a leader moved, a worker waits that long (5 minutes by faust's default)."""
    app = raw_faust_app("g", "127.0.0.1:9", batch_size=10)
    assert app.conf.consumer_metadata_max_age_ms == METADATA_MAX_AGE_MS <= 30_000
