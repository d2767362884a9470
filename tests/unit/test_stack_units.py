"""Fast checks of the stack launcher's own logic (no servers started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from databus.stack import process
from databus.stack.errors import MissingToolError
from databus.stack.parts.kafka import _server_properties
from databus.stack.process import free_port, is_ours, port_open, require_tool, stop
from databus.stack.state import PartRecord, StackState


def test_missing_tool_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingToolError) as err:
        require_tool("mvn", "install Maven (apt-get install maven)")
    assert str(err.value) == "mvn not found: install Maven (apt-get install maven)"


def test_state_round_trips_and_gives_addresses(tmp_path: Path) -> None:
    state = StackState(stack_dir=str(tmp_path))
    state.parts["kafka"] = PartRecord(
        name="kafka", pid=1, address="127.0.0.1:9", url="127.0.0.1:9", log="k.log", marker="m"
    )
    state.save()
    loaded = StackState.load(tmp_path)
    assert loaded is not None
    assert loaded.kafka_bootstrap() == "127.0.0.1:9"
    assert loaded.registry_url() is None
    assert StackState.load(tmp_path / "elsewhere") is None


def test_broker_listens_on_loopback_only_without_auto_topic_creation() -> None:
    props = dict(line.split("=", 1) for line in _server_properties(9092, 9093, "/d").splitlines())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["auto.create.topics.enable"] == "false"
    assert props["process.roles"] == "broker,controller"


def test_stop_touches_only_processes_carrying_our_marker(tmp_path: Path) -> None:
    marker = str(tmp_path / "ours")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time, sys; time.sleep(60)", marker],
        start_new_session=True,
    )
    try:
        assert is_ours(proc.pid, marker)
        assert not is_ours(proc.pid, str(tmp_path / "someone-else"))
        # A pid whose command line lacks the marker (e.g. a reused pid) is left alone.
        assert stop(proc.pid, str(tmp_path / "someone-else"), grace=1) is False
        assert proc.poll() is None
        assert stop(proc.pid, marker, grace=5) is False
        assert not is_ours(proc.pid, marker)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_process_just_spawned_is_ours_even_inside_execve(tmp_path: Path) -> None:
    """Popen returns once execve closed its error pipe, before the kernel sets the new command
    line; read at that instant it is empty. CI once took a starting broker for a dead one."""
    marker = str(tmp_path / "ours")
    misses = 0
    for _ in range(300):
        proc = subprocess.Popen(["cat", "-", marker], stdin=subprocess.PIPE, start_new_session=True)
        try:
            misses += not is_ours(proc.pid, marker)
        finally:
            proc.kill()
            proc.wait()
    assert misses == 0


def test_free_port_is_not_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    assert not port_open("127.0.0.1", port)


def test_free_ports_are_chosen_below_the_ephemeral_range() -> None:
    """Outgoing connections take their ports from the kernel's ephemeral range, so a server
    port chosen there may be gone before the server binds it."""
    low = process._ephemeral_low()
    ports = {free_port() for _ in range(50)}
    if low - process.LOWEST_PORT >= 1000:
        assert all(process.LOWEST_PORT <= p < low for p in ports)
    assert len(ports) > 1
