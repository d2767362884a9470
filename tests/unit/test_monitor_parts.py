"""Pure parts of the monitor: positions, quantiles from buckets, the timestamp cache, the board."""

from __future__ import annotations

import time

from consumers.monitor.board import render_board, svg_chart
from consumers.monitor.freshness import parse_buckets, quantile
from consumers.monitor.service import ConnectionView
from consumers.monitor.snapshot import PartitionPosition, topic_lag, topic_lag_seconds
from consumers.monitor.timestamps import TimestampCache
from schemas.models.downstream import ConnectionState


def test_positions_without_a_commit_count_the_whole_retained_partition() -> None:
    p = PartitionPosition("t", 0, None, start=5, end=25, oldest_timestamp=100.0)
    assert p.lag == 20 and p.next_offset == 5
    assert p.lag_seconds(130.0) == 30.0
    caught_up = PartitionPosition("t", 1, 40, start=0, end=40)
    assert caught_up.lag == 0 and caught_up.lag_seconds(1e9) == 0.0
    assert topic_lag([p, caught_up]) == 20
    assert topic_lag_seconds([p, caught_up], 130.0) == 30.0
    unknown = PartitionPosition("t", 2, 1, start=0, end=9)
    assert topic_lag_seconds([unknown], 10.0) is None


def test_quantile_like_promql() -> None:
    buckets = {1.0: 50.0, 5.0: 90.0, 10.0: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == 1.0
    assert abs((quantile(0.99, buckets) or 0) - 9.5) < 1e-9
    assert quantile(0.99, {1.0: 0.0, float("inf"): 0.0}) is None


def test_parse_buckets_per_connection() -> None:
    text = (
        "# TYPE databus_connection_freshness_seconds histogram\n"
        'databus_connection_freshness_seconds_bucket{connection="a",le="1.0"} 3.0\n'
        'databus_connection_freshness_seconds_bucket{connection="a",le="+Inf"} 4.0\n'
        'databus_connection_freshness_seconds_count{connection="a"} 4.0\n'
        'databus_connection_freshness_seconds_sum{connection="a"} 2.0\n'
    )
    assert parse_buckets(text) == {"a": {1.0: 3.0, float("inf"): 4.0}}


def test_timestamp_cache_is_bounded() -> None:
    cache = TimestampCache(2)
    cache.put(("t", 0, 1), 1.0)
    cache.put(("t", 0, 2), 2.0)
    assert cache.get(("t", 0, 1)) == 1.0  # now the newest
    cache.put(("t", 0, 3), 3.0)
    assert len(cache) == 2 and cache.get(("t", 0, 2)) is None


def test_board_escapes_and_lists_every_connection() -> None:
    views = [
        ConnectionView(
            name=name,
            status=ConnectionState.STOPPED,
            reason="no_live_consumer",
            detail="<group>",
            since=time.time(),
            lag_messages=12,
            lag_seconds=3.0,
            freshness_p99=None,
            freshness_objective=60,
            last_event_at=None,
            last_heartbeat_at=None,
        )
        for name in ("a-to-b", "c-to-d")
    ]
    page = render_board(views, last_success=time.time())
    assert page.count('data-status="STOPPED"') == 2
    assert "<group>" not in page and 'http-equiv="refresh"' in page
    assert "src=" not in page and "<script" not in page  # no external assets
    chart = svg_chart([(time.time() - 60, 1.0), (time.time(), 4.0)], title="lag", unit="messages")
    assert chart.startswith("<svg") and "polyline" in chart


def test_transient_broker_answers_are_retried() -> None:
    from confluent_kafka import KafkaError, KafkaException

    from databus.kafka_retry import is_transient, reason_code, retrying

    loading = KafkaException(KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS))
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise loading
        return "ok"

    assert is_transient(loading)
    assert retrying(flaky, 3, backoff=0.001) == "ok" and len(calls) == 3
    fatal = KafkaException(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED))
    assert not is_transient(fatal)
    assert reason_code(fatal) == "group_authorization_failed"


def test_the_monitor_knows_the_components_default_groups() -> None:
    import inspect

    from consumers.sink import worker as sink_worker
    from databus.consumer_groups import POPULATION_SYNC, SECTOR_ROUTER, sink_group
    from streams.population.worker import CONSUMER as SYNC_GROUP
    from streams.router.worker import CONSUMER as ROUTER_GROUP

    assert (POPULATION_SYNC, SECTOR_ROUTER) == (SYNC_GROUP, ROUTER_GROUP)
    assert sink_group("tax") == "sink-tax"
    assert 'f"sink-{sector}"' in inspect.getsource(sink_worker)  # the sink's own default
