"""Prometheus recording and alerting rules, generated from the topology's connections.

Recording rules hold each connection's objectives as series (freshness objective, error budget,
heartbeat interval), so one alert rule serves every connection, and the freshness error ratio
per connection over each burn-rate window, read from the histogram's bucket at the objective.

Alerts (docs/observability.md has the runbook of each):

- `DatabusConnectionDown`, `...Stopped`, `...Stalled`, `...SinkFailing`: the lag monitor's
  `databus_connection_status` state set.
- `DatabusFreshnessBudgetBurnFast` / `...Slow`: multi-window, multi-burn-rate alerts on the
  freshness objective (Google SRE workbook, "Alerting on SLOs": 14.4x over 1 h and 5 min,
  6x over 6 h and 30 min; both windows must burn, so a spike that ended stops paging).
- `DatabusDeadLettersGrowing`: a component dead-lettered records within the window (also the
  first one, when the counter series is new while its target was already scraped).
- `DatabusPublisherSilent`: no heartbeat for `heartbeat_misses` x the connection's interval.
- `DatabusMonitorStale`: the monitor has not completed a collection lately (or never).
- `DatabusComponentDown` / `DatabusComponentNotReady`: a scrape target down, or its `/readyz`
  answering 503.

`Windows` sets every window and `for`; `TEST_WINDOWS` shrinks them to seconds for the tests that
run a real Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client.utils import floatToGoString

from databus.topology.model import Topology

JOB = "databus"
"""The scrape job of every component (`deploy/prometheus/prometheus.yml`)."""
RUNBOOK = "docs/observability.md#runbook"

FRESHNESS = "databus_connection_freshness_seconds"
OBJECTIVE = "databus:connection_freshness_objective_seconds"
BUDGET = "databus:connection_freshness_error_budget_ratio"
HEARTBEAT_INTERVAL = "databus:connection_heartbeat_interval_seconds"
STATUSES = ("OK", "LAGGING", "STALLED", "STOPPED", "IDLE", "SINK_FAILING", "DOWN")


def bucket_label(seconds: float) -> str:
    """The `le` label prometheus_client gives a bucket bound (Go's float formatting)."""
    text = floatToGoString(seconds)  # type: ignore[no-untyped-call]
    return str(text)


def error_ratio_name(window: str) -> str:
    """The recording rule of the freshness error ratio over `window` (e.g. `5m`)."""
    return f"connection:databus_connection_freshness_error_ratio:rate{window}"


@dataclass(frozen=True)
class Windows:
    """Every window and `for` duration of the rules (Prometheus durations)."""

    fast_long: str = "1h"
    fast_short: str = "5m"
    fast_burn: float = 14.4
    slow_long: str = "6h"
    slow_short: str = "30m"
    slow_burn: float = 6.0
    status_for: str = "2m"
    stalled_for: str = "5m"
    dead_letters: str = "10m"
    heartbeat_misses: int = 3
    heartbeat_for: str = "1m"
    monitor_stale_seconds: int = 120
    monitor_for: str = "1m"
    component_for: str = "1m"
    not_ready_for: str = "5m"

    @property
    def burn_windows(self) -> list[str]:
        """The windows of the error ratio recording rules."""
        return list(
            dict.fromkeys([self.fast_short, self.fast_long, self.slow_short, self.slow_long])
        )


PRODUCTION_WINDOWS = Windows()
TEST_WINDOWS = Windows(
    fast_long="30s",
    fast_short="10s",
    slow_long="1m",
    slow_short="20s",
    status_for="0s",
    stalled_for="0s",
    dead_letters="30s",
    heartbeat_for="0s",
    monitor_stale_seconds=10,
    monitor_for="0s",
    component_for="0s",
    not_ready_for="0s",
)
"""Seconds instead of hours: for a real Prometheus in a test (scrape interval 1 s)."""


def recording_rules(topology: Topology, windows: Windows = PRODUCTION_WINDOWS) -> dict[str, Any]:
    """The recording rules file: objectives as series, freshness error ratios per window."""
    objectives: list[dict[str, Any]] = []
    ratios: list[dict[str, Any]] = []
    for name, conn in topology.connections.items():
        freshness = conn.objectives.freshness
        labels = {"connection": name}
        budget = round(1 - freshness.percentile / 100, 10)
        objectives += [
            {"record": OBJECTIVE, "expr": f"vector({freshness.seconds:g})", "labels": labels},
            {"record": BUDGET, "expr": f"vector({budget:g})", "labels": labels},
            {
                "record": HEARTBEAT_INTERVAL,
                "expr": f"vector({conn.objectives.heartbeat_interval_seconds:g})",
                "labels": labels,
            },
        ]
        le = bucket_label(freshness.seconds)
        for window in windows.burn_windows:
            good = f'{FRESHNESS}_bucket{{connection="{name}",le="{le}"}}'
            total = f'{FRESHNESS}_count{{connection="{name}"}}'
            ratios.append(
                {
                    "record": error_ratio_name(window),
                    "expr": (
                        f"1 - (sum by (connection) (rate({good}[{window}]))"
                        f" / sum by (connection) (rate({total}[{window}])))"
                    ),
                    "labels": labels,
                }
            )
    return {
        "groups": [
            {"name": "databus-objectives", "rules": objectives},
            {"name": "databus-freshness", "rules": ratios},
        ]
    }


def _status_alert(alert: str, status: str, wait: str, summary: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": f'max by (connection) (databus_connection_status{{status="{status}"}}) == 1',
        "for": wait,
        "labels": {"severity": "page"},
        "annotations": {
            "summary": f"Connection {{{{ $labels.connection }}}} is {status}: {summary}",
            "runbook": f"{RUNBOOK}-{alert.lower()}",
        },
    }


def _burn_alert(alert: str, long: str, short: str, burn: float) -> dict[str, Any]:
    threshold = f"on (connection) ({burn:g} * {BUDGET})"
    return {
        "alert": alert,
        "expr": (
            f"{error_ratio_name(long)} > {threshold}\nand\n{error_ratio_name(short)} > {threshold}"
        ),
        "labels": {"severity": "page"},
        "annotations": {
            "summary": (
                f"Connection {{{{ $labels.connection }}}} burns its freshness error budget "
                f"{burn:g}x too fast (over {long} and {short})"
            ),
            "runbook": f"{RUNBOOK}-{alert.lower()}",
        },
    }


def alerting_rules(topology: Topology, windows: Windows = PRODUCTION_WINDOWS) -> dict[str, Any]:
    """The alerting rules file (the topology enters through the recording rules' series)."""
    del topology  # every alert is per connection through the objective series
    w = windows
    dead = "databus_dead_letters_total"
    connection_rules = [
        _status_alert(
            "DatabusConnectionDown", "DOWN", w.status_for, "broker or component unreachable"
        ),
        _status_alert(
            "DatabusConnectionStopped", "STOPPED", w.status_for, "no live consumer or no commit"
        ),
        _status_alert(
            "DatabusConnectionStalled", "STALLED", w.stalled_for, "commits not moving under lag"
        ),
        _status_alert(
            "DatabusConnectionSinkFailing",
            "SINK_FAILING",
            w.status_for,
            "the database refuses writes",
        ),
        _burn_alert("DatabusFreshnessBudgetBurnFast", w.fast_long, w.fast_short, w.fast_burn),
        _burn_alert("DatabusFreshnessBudgetBurnSlow", w.slow_long, w.slow_short, w.slow_burn),
        {
            "alert": "DatabusPublisherSilent",
            "expr": (
                "time() - max by (connection) "
                "(databus_connection_last_heartbeat_timestamp_seconds)\n"
                f"> on (connection) ({w.heartbeat_misses} * {HEARTBEAT_INTERVAL})"
            ),
            "for": w.heartbeat_for,
            "labels": {"severity": "ticket"},
            "annotations": {
                "summary": (
                    "No heartbeat on connection {{ $labels.connection }} for "
                    f"{w.heartbeat_misses} heartbeat intervals"
                ),
                "runbook": f"{RUNBOOK}-databuspublishersilent",
            },
        },
    ]
    component_rules = [
        {
            "alert": "DatabusDeadLettersGrowing",
            "expr": (
                f"sum by (consumer, reason) (increase({dead}[{w.dead_letters}])) > 0\n"
                "or\nsum by (consumer, reason) (\n"
                f"  ({dead} unless {dead} offset {w.dead_letters})\n"
                f"  and on (job, instance) (up offset {w.dead_letters})\n)"
            ),
            "labels": {"severity": "ticket"},
            "annotations": {
                "summary": (
                    "{{ $labels.consumer }} dead-lettered records ({{ $labels.reason }}) "
                    f"in the last {w.dead_letters}"
                ),
                "runbook": f"{RUNBOOK}-databusdeadlettersgrowing",
            },
        },
        {
            "alert": "DatabusComponentDown",
            "expr": f'up{{job="{JOB}"}} == 0',
            "for": w.component_for,
            "labels": {"severity": "page"},
            "annotations": {
                "summary": "Component {{ $labels.component }} does not answer its scrape",
                "runbook": f"{RUNBOOK}-databuscomponentdown",
            },
        },
        {
            "alert": "DatabusComponentNotReady",
            "expr": "databus_component_ready == 0",
            "for": w.not_ready_for,
            "labels": {"severity": "page"},
            "annotations": {
                "summary": "Component {{ $labels.component }} is not ready (/readyz 503)",
                "runbook": f"{RUNBOOK}-databuscomponentnotready",
            },
        },
        {
            "alert": "DatabusMonitorStale",
            "expr": (
                "time() - max(databus_monitor_last_success_timestamp_seconds) "
                f"> {w.monitor_stale_seconds}\n"
                "or\nabsent(databus_monitor_last_success_timestamp_seconds)"
            ),
            "for": w.monitor_for,
            "labels": {"severity": "page"},
            "annotations": {
                "summary": (
                    "The lag monitor has not completed a collection in "
                    f"{w.monitor_stale_seconds} s: connection states are unknown"
                ),
                "runbook": f"{RUNBOOK}-databusmonitorstale",
            },
        },
    ]
    return {
        "groups": [
            {"name": "databus-connections", "rules": connection_rules},
            {"name": "databus-components", "rules": component_rules},
        ]
    }


def alert_names(rules: dict[str, Any]) -> list[str]:
    """The alert names of a rules file."""
    return [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
