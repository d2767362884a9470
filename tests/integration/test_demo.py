"""`databus demo` (what `make demo` runs after `stack up` and `topics apply`) succeeds."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from databus.settings import Settings
from tests.conftest import settings_env


def test_demo_runs_every_step(bus_settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    applied = runner.invoke(cli, ["topics", "apply"], env=settings_env(bus_settings))
    assert applied.exit_code == 0, applied.output
    registered = runner.invoke(cli, ["schemas", "register"], env=settings_env(bus_settings))
    assert registered.exit_code == 0, registered.output
    result = runner.invoke(
        cli,
        ["demo", "--events", "3", "--citizens", "60", "--workdir", str(tmp_path)],
        env=settings_env(bus_settings),
    )
    assert result.exit_code == 0, result.output
    assert "demo ok" in result.output
    for agency in ("VN/GOV/BTP/hotich", "VN/GOV/BCA/cutru", "VN/GOV/BCA/dinhdanh"):
        assert agency in result.output
    assert "framing: magic byte 0" in result.output
    assert result.output.count("equal") == 13  # every event type round-trips
    assert "[pin.century_sex]" in result.output  # the bad event is refused, rule named
    assert "checker (C): 13 of 13 examples validated" in result.output  # no model built
    assert "generated 60 citizens" in result.output
    assert (tmp_path / "population" / "events.civil-status.jsonl").exists()
    assert "published events applied" in result.output
    assert "fact rows (one per citizen and event)" in result.output
    assert "outbox relay:" in result.output
    assert "usage trail of the citizen" in result.output
    assert "connection health from http://127.0.0.1:" in result.output  # `databus status`
    assert "web board: http://127.0.0.1:" in result.output
    assert "civil-status-to-population" in result.output
    assert "while the router and the sinks run" in result.output
    assert "allow rules from the topology" in result.output  # the security step
    assert "bad_signature: signature does not match the record" in result.output
    assert "is current" in result.output  # deploy/k8s is what the topology renders
