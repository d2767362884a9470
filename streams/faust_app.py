"""The faust app every stream processor of the bus starts from: raw bytes in (records are decoded
by our own registry decoders), no local tables, topics declared by `databus topics apply` only,
offsets committed every second."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import faust


METADATA_MAX_AGE_MS = 15_000
"""How old a faust consumer's cluster metadata may get before it is fetched again."""


def raw_faust_app(
    group: str, bootstrap_servers: str, *, batch_size: int, lean: bool = True, **overrides: Any
) -> faust.App:
    """A `faust.App` for consumer group `group` on the `kafka://` (aiokafka) driver; `overrides`
    are further faust settings (e.g. a shorter `broker_session_timeout`). Its consumer fetches
    with `streams.faust_fetch.FETCH_MAX_WAIT_MS`, not faust's 1.5 s. The workers (`lean=True`)
    use `streams.faust_delivery.LeanConsumer`: the lean delivery with the commits of
    `BusConsumer`. `lean=False` (bench/consume, bench/rebalance_churn, as the baseline): faust's
    own delivery and commits."""
    from databus.security.client import KafkaSecurity, check_login
    from streams.faust_delivery import lean_app
    from streams.faust_fetch import fetch_wait_app

    security = KafkaSecurity.from_env()
    check_login(bootstrap_servers, security)  # a wrong password fails here, naming the principal
    credentials = security.faust_credentials()
    settings: dict[str, Any] = {
        "broker": f"kafka://{bootstrap_servers}",
        "value_serializer": "raw",
        "key_serializer": "raw",
        "store": "memory://",
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "web_enabled": False,
        "consumer_auto_offset_reset": "earliest",
        "broker_commit_interval": 1.0,
        "stream_buffer_maxsize": batch_size * 4,
        # aiokafka does not refresh its metadata when fetching a partition's offsets fails with
        # "not leader" (after a leader moved): it retries the same broker until the metadata
        # ages out, 5 minutes by default. A cluster fault run met it: a worker stuck for
        # minutes after a broker froze. 15 s bounds that, for one metadata request per 15 s.
        "consumer_metadata_max_age_ms": METADATA_MAX_AGE_MS,
        **({"broker_credentials": credentials} if credentials else {}),
        **overrides,
    }
    if lean:
        return lean_app(group, **settings)
    return fetch_wait_app(group, **settings)
