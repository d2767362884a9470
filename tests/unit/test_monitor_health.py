"""The health rules of the monitor (consumers/monitor/health.py), by property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consumers.monitor.health import (
    HopObservation,
    Objectives,
    Observation,
    SinkProbe,
    judge,
)
from schemas.models.downstream import ConnectionState

OBJ = Objectives(freshness_seconds=60, heartbeat_interval_seconds=10, heartbeat_grace=2.5, window=4)

hops = st.builds(
    HopObservation,
    group=st.just("g"),
    members=st.integers(0, 3),
    lag=st.integers(0, 10_000),
    committed_total=st.integers(0, 10_000),
    end_total=st.integers(0, 10_000),
    lag_seconds=st.one_of(st.none(), st.floats(0, 1e5)),
)
observations = st.builds(
    Observation,
    at=st.floats(1e9, 2e9),
    broker_ok=st.booleans(),
    hops=st.tuples(hops),
    heartbeat_at=st.one_of(st.none(), st.floats(1e9, 2e9)),
    sink=st.one_of(st.none(), st.builds(SinkProbe, st.booleans(), st.sampled_from(["x", "y"]))),
)
windows = st.lists(observations, min_size=1, max_size=8)


def _series(
    lags: list[int],
    committed: list[int],
    ends: list[int],
    *,
    members: int = 1,
    heartbeat_age: float | None = None,
    lag_seconds: float = 0.0,
) -> list[Observation]:
    out = []
    for i, (lag, c, e) in enumerate(zip(lags, committed, ends, strict=True)):
        at = 1_000_000.0 + 10 * i
        out.append(
            Observation(
                at,
                True,
                (HopObservation("g", members, lag, c, e, lag_seconds),),
                None if heartbeat_age is None else at - heartbeat_age,
            )
        )
    return out


@given(windows)
def test_always_a_known_state_with_a_reason(window: list[Observation]) -> None:
    verdict = judge(window, OBJ)
    assert verdict.status in set(ConnectionState)
    assert verdict.reason and verdict.reason.replace("_", "").isalnum()


@given(windows)
def test_only_the_last_window_counts(window: list[Observation]) -> None:
    assert judge(window, OBJ) == judge(window[-OBJ.window :], OBJ)


@given(windows)
def test_a_failed_collection_is_down(window: list[Observation]) -> None:
    last = window[-1]
    window[-1] = Observation(last.at, False, (), last.heartbeat_at, last.sink)
    verdict = judge(window, OBJ)
    assert (verdict.status, verdict.reason) == (ConnectionState.DOWN, "broker_unreachable")


@given(windows, st.sampled_from(["database_unreachable", "database_read_only"]))
def test_a_refusing_database_is_sink_failing(window: list[Observation], reason: str) -> None:
    last = window[-1]
    window[-1] = Observation(last.at, True, last.hops, last.heartbeat_at, SinkProbe(False, reason))
    assert judge(window, OBJ).status is ConnectionState.SINK_FAILING
    assert judge(window, OBJ).reason == reason


@given(windows)
def test_no_live_member_is_stopped(window: list[Observation]) -> None:
    last = window[-1]
    hop = last.hops[0]
    dead = HopObservation(hop.group, 0, hop.lag, hop.committed_total, hop.end_total)
    window[-1] = Observation(last.at, True, (dead,), last.heartbeat_at, None)
    assert judge(window, OBJ).status is ConnectionState.STOPPED


@given(
    st.integers(1, 1000),
    st.integers(0, 10**6),
    st.lists(st.integers(0, 50), min_size=4, max_size=4),
)
def test_lag_without_moving_commits_is_stalled(
    base: int, committed: int, growth: list[int]
) -> None:
    lags = [base + sum(growth[: i + 1]) for i in range(4)]
    window = _series(lags, [committed] * 4, [committed + lag for lag in lags])
    assert judge(window, OBJ).status is ConnectionState.STALLED


@given(st.integers(1, 1000), st.lists(st.integers(1, 50), min_size=4, max_size=4))
def test_growing_lag_with_moving_commits_is_lagging(base: int, steps: list[int]) -> None:
    lags = [base + 10 * i for i in range(4)]
    committed = [sum(steps[: i + 1]) for i in range(4)]
    window = _series(lags, committed, [c + lag for c, lag in zip(committed, lags, strict=True)])
    verdict = judge(window, OBJ)
    assert (verdict.status, verdict.reason) == (ConnectionState.LAGGING, "lag_growing")


@given(st.floats(60.001, 1e6))
def test_lag_over_the_objective_is_lagging(seconds: float) -> None:
    window = _series([5], [10], [15], lag_seconds=seconds)
    verdict = judge(window, OBJ)
    assert (verdict.status, verdict.reason) == (ConnectionState.LAGGING, "lag_over_objective")


@given(st.integers(0, 10**6), st.floats(0, 25))
def test_quiet_with_heartbeats_is_idle(offset: int, age: float) -> None:
    window = _series([0] * 4, [offset] * 4, [offset] * 4, heartbeat_age=age)
    assert judge(window, OBJ).status is ConnectionState.IDLE


@given(st.integers(0, 10**6), st.floats(25.001, 1e5))
def test_quiet_without_heartbeats_is_down(offset: int, age: float) -> None:
    window = _series([0] * 4, [offset] * 4, [offset] * 4, heartbeat_age=age)
    verdict = judge(window, OBJ)
    assert (verdict.status, verdict.reason) == (ConnectionState.DOWN, "publisher_silent")


@given(st.lists(st.integers(1, 100), min_size=4, max_size=4))
def test_consuming_and_caught_up_is_ok(steps: list[int]) -> None:
    committed = [sum(steps[: i + 1]) for i in range(4)]
    window = _series([0] * 4, committed, committed, heartbeat_age=None)
    assert judge(window, OBJ).status is ConnectionState.OK


def test_a_short_window_decides_only_what_one_look_shows() -> None:
    window = _series([100, 200], [5, 5], [105, 205])
    assert judge(window, OBJ).status is ConnectionState.OK
