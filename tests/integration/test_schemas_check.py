"""`databus schemas register|check` against the real registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from databus.settings import Settings
from schemas.avro_files import AVRO_DIR
from tests.conftest import settings_env


def _tree(tmp_path: Path, edit: str) -> Path:
    """A copy of the schema tree with one edit to the Citizen record."""
    tree = tmp_path / edit
    shutil.copytree(AVRO_DIR, tree)
    path = tree / "Citizen.avsc"
    schema = json.loads(path.read_text(encoding="utf-8"))
    if edit == "remove-required":
        schema["fields"] = [f for f in schema["fields"] if f["name"] != "given_name"]
    elif edit == "add-optional":
        schema["fields"].append(
            {
                "name": "preferred_language",
                "type": ["null", "string"],
                "default": None,
                "doc": "Preferred language.",
                "sensitivity": "personal",
            }
        )
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False), encoding="utf-8")
    return tree


def test_register_is_idempotent_and_check_passes_on_the_registered_tree(
    bus_settings: Settings,
) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["schemas", "register", "--json"], env=settings_env(bus_settings))
    assert first.exit_code == 0, first.output
    results = json.loads(first.output)
    assert results and all(r["new_version"] for r in results)
    assert {r["subject"] for r in results} >= {
        f"{bus_settings.topic_prefix}civilstatus.events.v1-value",
        f"{bus_settings.topic_prefix}population.citizens.v1-value",
    }
    again = runner.invoke(cli, ["schemas", "register", "--json"], env=settings_env(bus_settings))
    assert not any(r["new_version"] for r in json.loads(again.output))
    check = runner.invoke(cli, ["schemas", "check", "--json"], env=settings_env(bus_settings))
    assert check.exit_code == 0, check.output
    assert {r["status"] for r in json.loads(check.output)} == {"unchanged"}


def test_check_fails_on_removing_a_required_field_and_passes_on_an_optional_addition(
    bus_settings: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = settings_env(bus_settings)
    assert runner.invoke(cli, ["schemas", "register"], env=env).exit_code == 0

    removed = runner.invoke(
        cli,
        ["schemas", "check", "--json", "--schemas-dir", str(_tree(tmp_path, "remove-required"))],
        env=env,
    )
    assert removed.exit_code == 1, removed.output
    citizen = [r for r in json.loads(removed.output) if r["schema_name"] == "Citizen"]
    assert citizen and citizen[0]["status"] == "incompatible"
    assert any("given_name" in p for p in citizen[0]["problems"])

    added = runner.invoke(
        cli,
        ["schemas", "check", "--json", "--schemas-dir", str(_tree(tmp_path, "add-optional"))],
        env=env,
    )
    assert added.exit_code == 0, added.output
    statuses = {r["schema_name"]: r["status"] for r in json.loads(added.output)}
    assert statuses["Citizen"] == "compatible"
