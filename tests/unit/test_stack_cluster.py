"""The cluster plan and node settings of `databus stack up --brokers N` (no server started)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from databus.stack import cluster
from databus.stack.cluster import ClusterPlan, node_id_of, node_part, node_properties
from databus.stack.errors import StackError
from databus.stack.launcher import Stack
from databus.stack.state import PartRecord, StackState


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_a_plan_gives_every_node_its_own_loopback_ports_and_one_quorum(tmp_path: Path) -> None:
    plan = ClusterPlan.fresh(3)
    ports = [p for n in plan.nodes for p in (n.port, n.controller_port)]
    assert len(set(ports)) == 6
    plan.save(tmp_path)
    assert ClusterPlan.load(tmp_path) == plan
    assert plan.names == ["kafka-1", "kafka-2", "kafka-3"]
    props = [_props(node_properties(plan, n, tmp_path / str(n))) for n in (1, 2, 3)]
    assert {p["controller.quorum.voters"] for p in props} == {plan.voters}
    assert plan.voters.count("@127.0.0.1:") == 3
    for node_id, p in enumerate(props, start=1):
        assert p["node.id"] == str(node_id)
        assert all("127.0.0.1" in listener for listener in p["listeners"].split(","))
        assert p["auto.create.topics.enable"] == "false"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"
        assert p["min.insync.replicas"] == "2"


def test_a_peer_host_adds_an_advertised_listener_for_another_namespace() -> None:
    plan = ClusterPlan.fresh(3, peer_host="169.254.213.1")
    p = _props(node_properties(plan, 2, Path("/d")))
    peer = f"PEER://169.254.213.1:{plan.node(2).peer_port}"
    assert peer in p["listeners"] and peer in p["advertised.listeners"]
    assert "PEER:PLAINTEXT" in p["listener.security.protocol.map"]
    assert plan.peer_bootstrap and plan.peer_bootstrap.count("169.254.213.1:") == 3


def test_sizes_and_names(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="1 to 9 brokers"):
        ClusterPlan.fresh(10)
    assert node_id_of("kafka-3") == 3
    assert node_id_of("kafka") is None and node_id_of("kafka-10") is None
    node = node_part("kafka-2")
    assert node is not None and node.name == "kafka-2"
    assert Stack(tmp_path, tmp_path).part("kafka-1").name == "kafka-1"
    with pytest.raises(StackError, match="unknown stack part"):
        Stack(tmp_path, tmp_path).part("zookeeper")


def test_the_bootstrap_of_a_cluster_names_every_node(tmp_path: Path) -> None:
    state = StackState(stack_dir=str(tmp_path))
    for n in (2, 1, 3):
        state.parts[f"kafka-{n}"] = PartRecord(
            name=f"kafka-{n}",
            pid=1,
            address=f"127.0.0.1:90{n}",
            url=f"127.0.0.1:90{n}",
            log="k.log",
            marker="m",
        )
    assert state.kafka_bootstrap() == "127.0.0.1:901,127.0.0.1:902,127.0.0.1:903"


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kafka-storage format --cluster-id -...` reads it as an option: Kafka's own ids avoid
    the dash, so do ours (the first random id here would start with one)."""
    ids = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=bytes(16))])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    made = cluster._kafka_uuid()
    assert made == "AAAAAAAAAAAAAAAAAAAAAA"
    monkeypatch.undo()
    assert all(not cluster._kafka_uuid().startswith("-") for _ in range(2000))
