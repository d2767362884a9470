"""The faust app every stream processor of the bus starts from: raw bytes in (records are decoded
by our own registry decoders), no local tables, topics declared by `databus topics apply` only,
offsets committed every second."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import faust


def raw_faust_app(
    group: str, bootstrap_servers: str, *, batch_size: int, **overrides: Any
) -> faust.App:
    """A `faust.App` for consumer group `group` on the `kafka://` (aiokafka) driver; `overrides`
    are further faust settings (e.g. a shorter `broker_session_timeout`)."""
    import faust

    from databus.security.client import KafkaSecurity, check_login

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
        **({"broker_credentials": credentials} if credentials else {}),
        **overrides,
    }
    return faust.App(group, **settings)
