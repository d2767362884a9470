"""Health of a connection from a sliding window of observations: pure functions, no I/O.

The rules, first match wins (docs/observability.md, "Health rules"):

1. DOWN, `broker_unreachable`: the last collection failed.
2. SINK_FAILING, the probe's reason: the downstream database refuses connections or writes.
3. STOPPED, `no_live_consumer`: a group on the way has no live member.
4. STALLED, `commits_not_moving`: over a full window a hop had lag every time and its
   committed offsets never moved.
5. LAGGING, `lag_over_objective`: lag in seconds above the freshness objective; or
   `lag_growing`: over a full window the lag never fell, ended higher, and was never zero.
6. With no lag and no new record over a full window: IDLE, `no_traffic_heartbeats_ok`, when the
   publisher's heartbeats are on time; DOWN, `publisher_silent`, when they stopped.
7. OK (`caught_up` or `consuming`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.models.downstream import ConnectionState


@dataclass(frozen=True, slots=True)
class HopObservation:
    """One consumer group's standing on one topic at one collection."""

    group: str
    members: int
    lag: int
    committed_total: int
    """Sum of the committed offsets (moves when the group commits)."""
    end_total: int
    """Sum of the log-end offsets (moves when records arrive)."""
    lag_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class SinkProbe:
    """Whether the downstream database accepts writes, and why not."""

    ok: bool
    reason: str = "ok"


@dataclass(frozen=True, slots=True)
class Observation:
    """What the monitor saw of one connection at one collection."""

    at: float
    broker_ok: bool
    hops: tuple[HopObservation, ...] = ()
    heartbeat_at: float | None = None
    """When the publisher's last heartbeat was seen (None: never)."""
    sink: SinkProbe | None = None
    """The database probe (None: no database to probe, or no result yet)."""

    @property
    def lag(self) -> int:
        return sum(h.lag for h in self.hops)

    @property
    def lag_seconds(self) -> float:
        return max((h.lag_seconds or 0.0 for h in self.hops), default=0.0)


@dataclass(frozen=True, slots=True)
class Objectives:
    """What the topology promises for the connection, and the monitor's tolerance."""

    freshness_seconds: float
    heartbeat_interval_seconds: float
    heartbeat_grace: float = 2.5
    window: int = 6


@dataclass(frozen=True, slots=True)
class Verdict:
    """A state with its reason code and a short explanation (never a personal value)."""

    status: ConnectionState
    reason: str
    detail: str = ""


def heartbeat_late(obs: Observation, objectives: Objectives) -> bool | None:
    """Whether the publisher's heartbeat is overdue (None when it was never seen)."""
    if obs.heartbeat_at is None:
        return None
    limit = objectives.heartbeat_grace * objectives.heartbeat_interval_seconds
    return obs.at - obs.heartbeat_at > limit


def judge(window: Sequence[Observation], objectives: Objectives) -> Verdict:
    """The state of a connection given its observations, oldest first (rules: module doc)."""
    if not window:
        return Verdict(ConnectionState.DOWN, "no_observation", "nothing collected yet")
    last = window[-1]
    if not last.broker_ok:
        return Verdict(ConnectionState.DOWN, "broker_unreachable", "the last collection failed")
    if last.sink is not None and not last.sink.ok:
        return Verdict(ConnectionState.SINK_FAILING, last.sink.reason, "database probe failed")
    for hop in last.hops:
        if hop.members == 0:
            return Verdict(ConnectionState.STOPPED, "no_live_consumer", f"group {hop.group}")
    full = _full_window(window, objectives.window)
    if full:
        for i, hop in enumerate(last.hops):
            series = [o.hops[i] for o in full]
            if all(h.lag > 0 for h in series) and len({h.committed_total for h in series}) == 1:
                return Verdict(ConnectionState.STALLED, "commits_not_moving", f"group {hop.group}")
    if last.lag_seconds > objectives.freshness_seconds:
        return Verdict(
            ConnectionState.LAGGING,
            "lag_over_objective",
            f"{last.lag_seconds:.0f} s > {objectives.freshness_seconds:g} s",
        )
    if full:
        lags = [o.lag for o in full]
        if all(b >= a for a, b in itertools.pairwise(lags)) and lags[-1] > lags[0] > 0:
            return Verdict(ConnectionState.LAGGING, "lag_growing", f"{lags[0]} -> {lags[-1]}")
        quiet = last.lag == 0 and len({tuple(h.end_total for h in o.hops) for o in full}) == 1
        if quiet:
            late = heartbeat_late(last, objectives)
            if late is False:
                return Verdict(ConnectionState.IDLE, "no_traffic_heartbeats_ok")
            if late:
                return Verdict(ConnectionState.DOWN, "publisher_silent", "heartbeats stopped")
    return Verdict(ConnectionState.OK, "caught_up" if last.lag == 0 else "consuming")


def _full_window(window: Sequence[Observation], size: int) -> list[Observation] | None:
    """The last `size` observations if they are all of one shape and all collected, else None."""
    recent = list(window[-size:])
    if len(recent) < size or not all(o.broker_ok for o in recent):
        return None
    shape = [h.group for h in recent[-1].hops]
    if any([h.group for h in o.hops] != shape for o in recent):
        return None
    return recent
