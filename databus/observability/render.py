"""Render every generated observability file, and tell which committed ones are stale.

files = rendered(topology)            # {relative path under deploy/: text}
write(files, deploy_dir); stale(files, deploy_dir)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from databus.observability.components import components
from databus.observability.dashboards import dashboards, provisioning
from databus.observability.rules import alerting_rules, recording_rules
from databus.observability.scrape import prometheus_config
from databus.topology.model import Topology

HEADER = (
    "# Generated from deploy/topology.yaml by `databus observability render`: do not edit.\n"
    "# docs/observability.md explains every rule, target and dashboard.\n"
)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as literal blocks; no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def yaml_documents(*documents: Any) -> str:
    """YAML text of one or more documents: keys in order, multi-line strings as literal blocks."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def to_yaml(data: Any) -> str:
    """YAML text with the generated-file header."""
    return HEADER + yaml_documents(data)


def to_json(data: Any) -> str:
    """Stable, indented JSON (Grafana dashboards)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def rendered(topology: Topology) -> dict[str, str]:
    """Every generated file, by its path relative to `deploy/`."""
    targets = [(c.name, f"127.0.0.1:{c.port}") for c in components(topology)]
    files = {
        "prometheus/prometheus.yml": to_yaml(prometheus_config(targets)),
        "prometheus/rules/recording.yml": to_yaml(recording_rules(topology)),
        "prometheus/rules/alerts.yml": to_yaml(alerting_rules(topology)),
    }
    for name, board in dashboards(topology).items():
        files[f"grafana/dashboards/{name}.json"] = to_json(board)
    for name, data in provisioning().items():
        files[f"grafana/provisioning/{name}"] = to_yaml(data)
    return files


def write(files: dict[str, str], deploy_dir: Path) -> list[Path]:
    """Write the files under `deploy_dir`; return those that changed."""
    changed = []
    for relative, text in files.items():
        path = deploy_dir / relative
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(files: dict[str, str], deploy_dir: Path) -> list[str]:
    """The generated files missing or different under `deploy_dir`."""
    return [
        relative
        for relative, text in files.items()
        if not (deploy_dir / relative).exists()
        or (deploy_dir / relative).read_text(encoding="utf-8") != text
    ]
