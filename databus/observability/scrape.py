"""The Prometheus configuration that scrapes every component and loads the generated rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from databus.observability.rules import JOB

RULE_FILES = ("rules/recording.yml", "rules/alerts.yml")
"""Rule files, relative to the configuration file."""


def prometheus_config(
    targets: Sequence[tuple[str, str]],
    *,
    rule_files: Sequence[str] = RULE_FILES,
    scrape_interval: str = "15s",
    scrape_timeout: str = "10s",
    evaluation_interval: str = "30s",
) -> dict[str, Any]:
    """One job (`databus`), one static target per component, labelled `component`.

    `targets`: (component, host:port) pairs."""
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "scrape_timeout": scrape_timeout,
        },
        "rule_files": list(rule_files),
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [address], "labels": {"component": component}}
                    for component, address in targets
                ],
            }
        ],
    }
