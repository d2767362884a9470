"""The generated Grafana dashboards: one row per connection, a drill-down per connection, the
monitor's health; every query uses only metrics of the contract or the generated rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from databus.observability.dashboards import DATASOURCE, dashboards, panel_queries, substitute
from databus.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOPOLOGY = load_topology(DEPLOY / "topology.yaml")
_NAME = re.compile(r"(?<![\w:])(connection:[\w:]+|databus:[\w:]+|databus_\w+|up)(?![\w:(])")


def metric_names_of(query: str) -> set[str]:
    """Metric (and recording rule) names a PromQL query reads."""
    without_strings = re.sub(r'"[^"]*"', '""', query)
    return set(_NAME.findall(without_strings))


def contract_names() -> set[str]:
    """Names the contract (docs/observability.md) and the generated rules export."""
    text = (ROOT / "docs" / "observability.md").read_text()
    names: set[str] = {"up"}
    for name, kind in re.findall(r"^\| `(databus_\w+)` \| (\w+) \|", text, re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "recording.yml").read_text())
    names |= {r["record"] for g in rules["groups"] for r in g["rules"]}
    return names


def _committed(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(
        (DEPLOY / "grafana" / "dashboards" / f"{name}.json").read_text()
    )
    return board


def test_the_committed_dashboards_are_the_generated_ones() -> None:
    for name, board in dashboards(TOPOLOGY).items():
        assert _committed(name) == board


def test_every_query_reads_only_exported_metrics() -> None:
    allowed = contract_names()
    for name, board in dashboards(TOPOLOGY).items():
        for title, query in panel_queries(board):
            used = metric_names_of(query)
            assert used, (name, title, query)
            assert used <= allowed, (name, title, used - allowed)


def test_the_national_board_has_one_row_per_connection() -> None:
    board = dashboards(TOPOLOGY)["databus-national"]
    rows = [p["title"].split(":")[0] for p in board["panels"] if p["type"] == "row"]
    assert rows == list(TOPOLOGY.connections)
    for name in TOPOLOGY.connections:
        queries = [q for _, q in panel_queries(board) if f'connection="{name}"' in q]
        assert len(queries) >= 6, name


def test_the_drill_down_has_a_connection_variable() -> None:
    board = dashboards(TOPOLOGY)["databus-connection"]
    (variable,) = board["templating"]["list"]
    assert variable["name"] == "connection"
    assert [o["value"] for o in variable["options"]] == list(TOPOLOGY.connections)
    for _, query in panel_queries(board):
        assert "$connection" in query
        concrete = substitute(query, board)
        assert len(concrete) == len(TOPOLOGY.connections)
        assert all("$" not in q for q in concrete)


def test_the_monitor_board_watches_the_monitor() -> None:
    queries = " ".join(q for _, q in panel_queries(dashboards(TOPOLOGY)["databus-monitor"]))
    for name in (
        "databus_monitor_last_success_timestamp_seconds",
        "databus_monitor_collection_duration_seconds_bucket",
        "databus_monitor_collection_errors_total",
        "databus_component_ready",
    ):
        assert name in queries


def test_provisioning_points_at_the_dashboards_datasource() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "databus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["uid"] == DATASOURCE["uid"] and source["type"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "databus.yml").read_text())
    assert providers["providers"][0]["type"] == "file"
    for name in dashboards(TOPOLOGY):
        for panel in _committed(name)["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == DATASOURCE
