"""`databus observability render [--check]`: writes the generated files, tells when one is stale."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> tuple[int, str]:
    env = {"DATABUS_TOPOLOGY": str(ROOT / "deploy" / "topology.yaml")}
    result = CliRunner().invoke(cli, ["observability", "render", *args], env=env)
    return result.exit_code, result.stdout


def test_render_then_check(tmp_path: Path) -> None:
    code, _ = _run("--check", "--deploy-dir", str(tmp_path))
    assert code == 1  # nothing rendered yet
    code, out = _run("--deploy-dir", str(tmp_path), "--json")
    assert code == 0
    files = json.loads(out)["files"]
    assert "prometheus/rules/alerts.yml" in files
    assert "grafana/dashboards/databus-national.json" in files
    assert all((tmp_path / f).is_file() for f in files)
    assert _run("--check", "--deploy-dir", str(tmp_path))[0] == 0
    (tmp_path / "prometheus" / "rules" / "alerts.yml").write_text("groups: []\n")
    code, out = _run("--check", "--deploy-dir", str(tmp_path), "--json")
    assert code == 1
    assert json.loads(out)["stale"] == ["prometheus/rules/alerts.yml"]


def test_the_committed_files_are_current() -> None:
    assert _run("--check", "--deploy-dir", str(ROOT / "deploy"))[0] == 0
