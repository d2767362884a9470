"""`databus stack up|status|down` on a stack of its own: down leaves nothing running or bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from databus.stack.process import is_ours, port_open

DATABUS = [sys.executable, "-m", "cli"]


def _run(args: list[str], stack_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DATABUS, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DATABUS_STACK_DIR": str(stack_dir), **env},
    )


def test_up_status_down_leaves_no_process_and_no_port(tmp_path: Path) -> None:
    stack_dir = tmp_path / "stack"
    up = _run(["stack", "up", "--all"], stack_dir)
    assert up.returncode == 0, up.stderr + up.stdout
    try:
        status = _run(["stack", "status", "--json"], stack_dir)
        assert status.returncode == 0, status.stderr
        parts = json.loads(status.stdout)["parts"]
        assert {p["name"] for p in parts} == {"kafka", "registry", "postgres", "mariadb"}
        assert all(p["answers"] for p in parts)
        state = json.loads((stack_dir / "state.json").read_text())["parts"]
        markers = {name: record["marker"] for name, record in state.items()}
        for p in parts:
            assert (stack_dir / f"{p['name']}.pid").read_text().strip() == str(p["pid"])
            assert Path(p["log"]).stat().st_size > 0, f"{p['name']} wrote no log"
    finally:
        down = _run(["stack", "down"], stack_dir)
    assert down.returncode == 0, down.stderr + down.stdout

    for p in parts:
        assert not is_ours(p["pid"], markers[p["name"]]), f"{p['name']} still running"
        host, port = p["address"].rsplit(":", 1)
        assert not port_open(host, int(port)), f"{p['name']} port {port} still bound"
        assert not (stack_dir / f"{p['name']}.pid").exists()
    after = _run(["stack", "status", "--json"], stack_dir)
    assert json.loads(after.stdout)["parts"] == []
    assert after.returncode == 1


def test_missing_java_is_named_with_what_to_install(tmp_path: Path) -> None:
    result = _run(["stack", "up"], tmp_path / "stack", PATH=str(Path(sys.executable).parent))
    assert result.returncode == 1
    assert "java not found" in result.stderr
    assert "apt-get install" in result.stderr
