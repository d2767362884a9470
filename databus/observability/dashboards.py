"""Grafana dashboards generated from the topology, and their provisioning files.

- `databus-national`: one row per connection (status, lag in messages and seconds, freshness
  at the objective's percentile, share within the objective, heartbeat age).
- `databus-connection`: the drill-down of one connection, picked by the `connection` variable.
- `databus-monitor`: the lag monitor's own health and the components' (up, ready, dead
  letters).

Every query uses only metrics of the contract (docs/observability.md) and the generated
recording rules; the tests run each one against a real Prometheus.
"""

from __future__ import annotations

from typing import Any

from databus.observability.rules import (
    BUDGET,
    JOB,
    OBJECTIVE,
    PRODUCTION_WINDOWS,
    error_ratio_name,
)
from databus.topology.model import Connection, Topology

DATASOURCE = {"type": "prometheus", "uid": "databus-prometheus"}
PROMETHEUS_URL = "http://127.0.0.1:9090"
DASHBOARD_DIR = "/var/lib/grafana/dashboards/databus"
FRESHNESS_BUCKET = "databus_connection_freshness_seconds_bucket"
RATE_WINDOW = "5m"
HOUR = PRODUCTION_WINDOWS.fast_long


def _target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    grid: tuple[int, int, int, int],
    unit: str = "short",
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)],
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "uid": uid,
        "title": title,
        "tags": ["databus", "generated"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def _quantile(conn: Connection) -> float:
    return conn.objectives.freshness.percentile / 100


def _connection_panels(name: str, conn: Connection, y: int, selector: str) -> list[dict[str, Any]]:
    """The panels of one connection, at height `y`; `selector` picks its series."""
    q = _quantile(conn)
    return [
        _panel(
            "stat",
            "Status",
            [
                _target(
                    f"max by (status) (databus_connection_status{{{selector}}}) == 1", "{{status}}"
                )
            ],
            (0, y, 4, 5),
        ),
        _panel(
            "timeseries",
            "Lag (messages)",
            [_target(f"databus_connection_lag_messages{{{selector}}}", "lag")],
            (4, y, 5, 5),
        ),
        _panel(
            "timeseries",
            "Lag (seconds)",
            [_target(f"databus_connection_lag_seconds{{{selector}}}", "lag")],
            (9, y, 5, 5),
            "s",
        ),
        _panel(
            "timeseries",
            f"Freshness p{conn.objectives.freshness.percentile:g} "
            f"(objective {conn.objectives.freshness.seconds:g} s)",
            [
                _target(
                    f"histogram_quantile({q:g}, sum by (le) "
                    f"(rate({FRESHNESS_BUCKET}{{{selector}}}[{RATE_WINDOW}])))",
                    "freshness",
                ),
                _target(f"{OBJECTIVE}{{{selector}}}", "objective"),
            ],
            (14, y, 5, 5),
            "s",
        ),
        _panel(
            "stat",
            "Within objective (1 h)",
            [
                _target(
                    f"1 - {error_ratio_name(PRODUCTION_WINDOWS.fast_long)}{{{selector}}}", "within"
                )
            ],
            (19, y, 3, 5),
            "percentunit",
        ),
        _panel(
            "stat",
            "Heartbeat age",
            [
                _target(
                    f"time() - databus_connection_last_heartbeat_timestamp_seconds{{{selector}}}",
                    "age",
                )
            ],
            (22, y, 2, 5),
            "s",
        ),
    ]


def national(topology: Topology) -> dict[str, Any]:
    """One row per connection of the topology."""
    panels: list[dict[str, Any]] = []
    y = 0
    for name, conn in topology.connections.items():
        panels.append(
            {
                "type": "row",
                "title": f"{name}: {conn.from_} -> {conn.to}",
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        panels += _connection_panels(name, conn, y + 1, f'connection="{name}"')
        y += 6
    return _dashboard("databus-national", "Databus: national connections", panels, [])


def drill_down(topology: Topology) -> dict[str, Any]:
    """One connection, picked by the `connection` variable."""
    names = list(topology.connections)
    variable = {
        "name": "connection",
        "label": "Connection",
        "type": "custom",
        "query": ",".join(names),
        "current": {"text": names[0], "value": names[0]} if names else {},
        "options": [{"text": n, "value": n, "selected": i == 0} for i, n in enumerate(names)],
        "multi": False,
        "includeAll": False,
    }
    sel = 'connection="$connection"'
    panels = [
        _panel(
            "state-timeline",
            "Status",
            [_target(f"max by (status) (databus_connection_status{{{sel}}})", "{{status}}")],
            (0, 0, 24, 5),
        ),
        _panel(
            "timeseries",
            "Lag (messages)",
            [_target(f"databus_connection_lag_messages{{{sel}}}", "lag")],
            (0, 5, 12, 8),
        ),
        _panel(
            "timeseries",
            "Lag (seconds)",
            [_target(f"databus_connection_lag_seconds{{{sel}}}", "lag")],
            (12, 5, 12, 8),
            "s",
        ),
        _panel(
            "timeseries",
            "Freshness (applied_at - occurred_at)",
            [
                _target(
                    f"histogram_quantile({q}, sum by (le) "
                    f"(rate({FRESHNESS_BUCKET}{{{sel}}}[{RATE_WINDOW}])))",
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.9, 0.99)
            ]
            + [_target(f"{OBJECTIVE}{{{sel}}}", "objective")],
            (0, 13, 12, 8),
            "s",
        ),
        _panel(
            "timeseries",
            "Freshness error ratio by burn-rate window, and the budget",
            [_target(f"{error_ratio_name(w)}{{{sel}}}", w) for w in PRODUCTION_WINDOWS.burn_windows]
            + [_target(f"{BUDGET}{{{sel}}}", "budget")],
            (12, 13, 12, 8),
            "percentunit",
        ),
        _panel(
            "timeseries",
            "Events applied per second",
            [
                _target(
                    f"sum(rate(databus_connection_freshness_seconds_count{{{sel}}}[{RATE_WINDOW}]))",
                    "applied",
                )
            ],
            (0, 21, 8, 7),
            "ops",
        ),
        _panel(
            "timeseries",
            "Watermark age (now - newest occurred_at applied)",
            [
                _target(
                    f"time() - max(databus_connection_watermark_timestamp_seconds{{{sel}}})", "age"
                )
            ],
            (8, 21, 8, 7),
            "s",
        ),
        _panel(
            "timeseries",
            "Heartbeat age",
            [
                _target(
                    f"time() - databus_connection_last_heartbeat_timestamp_seconds{{{sel}}}", "age"
                )
            ],
            (16, 21, 8, 7),
            "s",
        ),
    ]
    return _dashboard("databus-connection", "Databus: connection", panels, [variable])


def monitor() -> dict[str, Any]:
    """The lag monitor's own health, and the components'."""
    panels = [
        _panel(
            "stat",
            "Since the last successful collection",
            [_target("time() - max(databus_monitor_last_success_timestamp_seconds)", "age")],
            (0, 0, 6, 6),
            "s",
        ),
        _panel(
            "timeseries",
            "Collection duration",
            [
                _target(
                    f"histogram_quantile({q}, sum by (le) "
                    f"(rate(databus_monitor_collection_duration_seconds_bucket[{RATE_WINDOW}])))",
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.99)
            ],
            (6, 0, 9, 6),
            "s",
        ),
        _panel(
            "timeseries",
            "Collection errors per second, by reason",
            [
                _target(
                    "sum by (reason) "
                    f"(rate(databus_monitor_collection_errors_total[{RATE_WINDOW}]))",
                    "{{reason}}",
                )
            ],
            (15, 0, 9, 6),
            "ops",
        ),
        _panel(
            "timeseries",
            "Consumer group members",
            [_target("databus_consumer_group_members", "{{group}}")],
            (0, 6, 12, 7),
        ),
        _panel(
            "timeseries",
            "Partitions without a committed offset, by group",
            [_target("sum by (group) (databus_consumer_group_partition_uncommitted)", "{{group}}")],
            (12, 6, 12, 7),
        ),
        _panel(
            "stat",
            "Components up",
            [_target(f'up{{job="{JOB}"}}', "{{component}}")],
            (0, 13, 8, 6),
        ),
        _panel(
            "stat",
            "Components ready",
            [_target("max by (component) (databus_component_ready)", "{{component}}")],
            (8, 13, 8, 6),
        ),
        _panel(
            "timeseries",
            "Dead letters (last hour), by consumer and reason",
            [
                _target(
                    "sum by (consumer, reason) (increase(databus_dead_letters_total[1h]))",
                    "{{consumer}} {{reason}}",
                )
            ],
            (16, 13, 8, 6),
        ),
    ]
    return _dashboard("databus-monitor", "Databus: monitor and components", panels, [])


def dashboards(topology: Topology) -> dict[str, dict[str, Any]]:
    """Every dashboard, by file name (without `.json`)."""
    return {
        "databus-national": national(topology),
        "databus-connection": drill_down(topology),
        "databus-monitor": monitor(),
    }


def provisioning() -> dict[str, dict[str, Any]]:
    """Grafana provisioning files, by path under `provisioning/`."""
    return {
        "datasources/databus.yml": {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus (databus)",
                    "type": "prometheus",
                    "uid": DATASOURCE["uid"],
                    "access": "proxy",
                    "url": PROMETHEUS_URL,
                    "isDefault": True,
                }
            ],
        },
        "dashboards/databus.yml": {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "databus",
                    "folder": "Databus",
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "options": {"path": DASHBOARD_DIR},
                }
            ],
        },
    }


def panel_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, query) of every target of a dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def substitute(query: str, board: dict[str, Any]) -> list[str]:
    """The query once per value of each template variable (as Grafana would send it)."""
    queries = [query]
    for variable in board["templating"]["list"]:
        token = f"${variable['name']}"
        if any(token in q for q in queries):
            values = [option["value"] for option in variable["options"]]
            queries = [q.replace(token, v) for q in queries for v in values]
    return queries
