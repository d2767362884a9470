"""The generated Prometheus rules: current, valid (`promtool check rules`), and every alert
tested firing and not firing with `promtool test rules` (Debian's promtool)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from databus.observability.render import rendered, stale
from databus.observability.rules import alert_names, bucket_label
from databus.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules"
TOPOLOGY = load_topology(DEPLOY / "topology.yaml")
CONN = "civil-status-to-population"  # objective 60 s at 99 %: budget 0.01
LE = bucket_label(60)
COUNT = f'databus_connection_freshness_seconds_count{{connection="{CONN}"}}'
BUCKET = f'databus_connection_freshness_seconds_bucket{{connection="{CONN}",le="{LE}"}}'
STATUS = 'databus_connection_status{{connection="population-to-tax",status="{}"}}'


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run deploy/local/ensure-system.sh full")
    return path


def _freshness(total_per_min: int, good_per_min: int, minutes: int) -> list[dict[str, str]]:
    return [
        {
            "series": COUNT,
            "values": f"0+{total_per_min}x{minutes}",
        },
        {
            "series": BUCKET,
            "values": f"0+{good_per_min}x{minutes}",
        },
    ]


def _status(status: str, values: str) -> list[dict[str, str]]:
    return [{"series": STATUS.format(status), "values": values}]


def _one(series: str, values: str) -> list[dict[str, str]]:
    return [{"series": series, "values": values}]


DEAD = (
    'databus_dead_letters_total{consumer="sink-tax",agency="unknown",'
    'event_type="SectorProjection",reason="decode_error",job="databus",instance="127.0.0.1:9411"}'
)
UP = 'up{job="databus",instance="127.0.0.1:9411",component="sink-tax"}'
READY = 'databus_component_ready{component="sink-tax",job="databus",instance="127.0.0.1:9411"}'
MONITOR = "databus_monitor_last_success_timestamp_seconds"
HEARTBEAT = f'databus_connection_last_heartbeat_timestamp_seconds{{connection="{CONN}"}}'
TAX = {"connection": "population-to-tax"}
FRESH = {"connection": CONN}
SINK = {"component": "sink-tax", "job": "databus", "instance": "127.0.0.1:9411"}
DEAD_LABELS = {"consumer": "sink-tax", "reason": "decode_error"}

# (alert, what the case shows, input series, eval time, labels of the expected alerts)
CASES: list[tuple[str, str, list[dict[str, str]], str, list[dict[str, str]]]] = [
    ("DatabusConnectionDown", "down for 3 min", _status("DOWN", "1x10"), "3m", [TAX]),
    ("DatabusConnectionDown", "down for only 1 min", _status("DOWN", "0 0 1 1"), "3m", []),
    ("DatabusConnectionDown", "another state", _status("DOWN", "0x10"), "5m", []),
    ("DatabusConnectionStopped", "stopped for 3 min", _status("STOPPED", "1x10"), "3m", [TAX]),
    ("DatabusConnectionStopped", "recovered", _status("STOPPED", "1 1 1 0 0 0"), "5m", []),
    ("DatabusConnectionStalled", "stalled for 6 min", _status("STALLED", "1x10"), "6m", [TAX]),
    (
        "DatabusConnectionStalled",
        "stalled 3 min only",
        _status("STALLED", "0 0 0 1 1 1 1"),
        "6m",
        [],
    ),
    ("DatabusConnectionSinkFailing", "failing 3 min", _status("SINK_FAILING", "1x10"), "3m", [TAX]),
    ("DatabusConnectionSinkFailing", "writes again", _status("SINK_FAILING", "0x10"), "3m", []),
    # 50 % of events late: burns 50x the 1 % budget on both windows
    ("DatabusFreshnessBudgetBurnFast", "half late", _freshness(100, 50, 70), "65m", [FRESH]),
    ("DatabusFreshnessBudgetBurnFast", "0.5 % late", _freshness(1000, 995, 70), "65m", []),
    # 10 % late: 10x burn: too slow for the fast alert, enough for the slow one
    ("DatabusFreshnessBudgetBurnFast", "10 % late", _freshness(100, 90, 70), "65m", []),
    ("DatabusFreshnessBudgetBurnSlow", "10 % late", _freshness(100, 90, 70), "65m", [FRESH]),
    ("DatabusFreshnessBudgetBurnSlow", "3 % late", _freshness(100, 97, 70), "65m", []),
    (
        "DatabusFreshnessBudgetBurnFast",
        "late for an hour, on time for the last 10 min (the short window has recovered)",
        [
            {
                "series": COUNT,
                "values": "0+100x60 6100+100x10",
            },
            {
                "series": BUCKET,
                "values": "0+50x60 3100+100x10",
            },
        ],
        "70m",
        [],
    ),
    (
        "DatabusPublisherSilent",
        "last heartbeat 5 min ago (interval 30 s)",
        [{"series": HEARTBEAT, "values": "0x10"}],
        "5m",
        [FRESH],
    ),
    (
        "DatabusPublisherSilent",
        "a heartbeat every minute",
        [{"series": HEARTBEAT, "values": "0+60x10"}],
        "5m",
        [],
    ),
    (
        "DatabusDeadLettersGrowing",
        "counter grows",
        [{"series": DEAD, "values": "0 0 1 2 2 2"}, {"series": UP, "values": "1x20"}],
        "3m",
        [DEAD_LABELS],
    ),
    (
        "DatabusDeadLettersGrowing",
        "the first dead letter (a new series on a target scraped for a while)",
        [{"series": DEAD, "values": "_x12 1x5"}, {"series": UP, "values": "1x30"}],
        "14m",
        [DEAD_LABELS],
    ),
    (
        "DatabusDeadLettersGrowing",
        "flat for longer than the window",
        [{"series": DEAD, "values": "2x20"}, {"series": UP, "values": "1x20"}],
        "15m",
        [],
    ),
    (
        "DatabusDeadLettersGrowing",
        "Prometheus just started: old dead letters are not news",
        [{"series": DEAD, "values": "2x5"}, {"series": UP, "values": "1x5"}],
        "2m",
        [],
    ),
    ("DatabusComponentDown", "scrape fails", [{"series": UP, "values": "0x5"}], "2m", [SINK]),
    ("DatabusComponentDown", "scrape works", [{"series": UP, "values": "1x5"}], "2m", []),
    (
        "DatabusComponentNotReady",
        "503 for 6 min",
        [{"series": READY, "values": "0x10"}],
        "6m",
        [SINK],
    ),
    ("DatabusComponentNotReady", "ready", [{"series": READY, "values": "1x10"}], "6m", []),
    (
        "DatabusMonitorStale",
        "no collection for 5 min",
        [{"series": MONITOR, "values": "0x10"}],
        "5m",
        [{}],
    ),
    ("DatabusMonitorStale", "no monitor at all", [{"series": UP, "values": "1x10"}], "5m", [{}]),
    (
        "DatabusMonitorStale",
        "collects every minute",
        [{"series": MONITOR, "values": "0+60x10"}],
        "5m",
        [],
    ),
]


def _alert_rules() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((RULES / "alerts.yml").read_text())
    return {r["alert"]: r for g in data["groups"] for r in g["rules"]}


def _annotations(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    def fill(text: str) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)

    return {k: fill(v) for k, v in rule.get("annotations", {}).items()}


def _test_file(tmp: Path) -> Path:
    rules = _alert_rules()
    tests = []
    for alert, _what, series, at, expected in CASES:
        rule = rules[alert]
        tests.append(
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": at,
                        "alertname": alert,
                        "exp_alerts": [
                            {
                                "exp_labels": {**labels, **rule.get("labels", {})},
                                "exp_annotations": _annotations(rule, labels),
                            }
                            for labels in expected
                        ],
                    }
                ],
            }
        )
    path = tmp / "alerts_test.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(RULES / "recording.yml"), str(RULES / "alerts.yml")],
                "evaluation_interval": "1m",
                "tests": tests,
            },
            sort_keys=False,
        )
    )
    return path


def test_committed_files_are_current() -> None:
    assert stale(rendered(TOPOLOGY), DEPLOY) == [], "run `databus observability render`"


def test_promtool_check_rules_passes() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES / "recording.yml"), str(RULES / "alerts.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_config_passes() -> None:
    config = DEPLOY / "prometheus" / "prometheus.yml"
    result = subprocess.run(
        [_promtool(), "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    names = alert_names(yaml.safe_load((RULES / "alerts.yml").read_text()))
    firing = {alert for alert, _, _, _, expected in CASES if expected}
    quiet = {alert for alert, _, _, _, expected in CASES if not expected}
    assert set(names) == firing == quiet


def test_promtool_test_rules_passes(tmp_path: Path) -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", str(_test_file(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_objectives_become_series_for_every_connection() -> None:
    data = yaml.safe_load((RULES / "recording.yml").read_text())
    objectives = {
        (r["record"], r["labels"]["connection"]): r["expr"]
        for g in data["groups"]
        for r in g["rules"]
        if r["record"].startswith("databus:")
    }
    for name, conn in TOPOLOGY.connections.items():
        seconds = conn.objectives.freshness.seconds
        assert objectives[("databus:connection_freshness_objective_seconds", name)] == (
            f"vector({seconds:g})"
        )
        ratio = "connection:databus_connection_freshness_error_ratio:rate5m"
        exprs = [r["expr"] for g in data["groups"] for r in g["rules"] if r["record"] == ratio]
        assert any(f'connection="{name}",le="{bucket_label(seconds)}"' in e for e in exprs)
