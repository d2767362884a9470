"""A Kafka cluster of several KRaft nodes on loopback: `databus stack up --brokers N`.

Each node is a part of its own (`kafka-1`, `kafka-2`, ...): broker and controller in one JVM,
its own data directory, ports, log and pid, so that a test can kill, freeze (SIGSTOP) or restart
ONE broker. The nodes form a static quorum of N voters. Their ports and the cluster id are
chosen once, before the first node starts, and kept in `<stack_dir>/kafka-cluster.json` (the
plan), so that every node knows its peers and a restarted node comes back on the same ports.

A plan may name a `peer_host`: every node then listens on a second listener (`PEER`) on that
address too, advertised as such, for clients in another network namespace (the fault tests'
network partition); the address must exist on this machine before the nodes start.
"""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import ClassVar

from confluent_kafka.admin import AdminClient
from pydantic import BaseModel

from databus.stack.artifacts import java, kafka_libs
from databus.stack.errors import StackError
from databus.stack.part import Part
from databus.stack.parts.kafka import format_storage, java_command, start_broker
from databus.stack.process import free_port
from databus.stack.state import PartRecord

PLAN_FILE = "kafka-cluster.json"
NODE_PREFIX = "kafka-"
MAX_NODES = 9
"""Node names must not be prefixes of one another (`kafka-1` of `kafka-10`): a process is
recognised by its run directory on its command line."""
HEAP = ["-Xms128m", "-Xmx384m"]
"""Three JVMs share two cores here: small heaps, fewer threads (see `node_properties`)."""
_NODE_NAME = re.compile(rf"^{NODE_PREFIX}([1-{MAX_NODES}])$")


class NodePorts(BaseModel):
    """Where one node listens."""

    node_id: int
    port: int
    controller_port: int
    peer_port: int | None = None


class ClusterPlan(BaseModel):
    """The cluster id and every node's ports, chosen before the first node starts."""

    cluster_id: str
    nodes: list[NodePorts]
    peer_host: str | None = None

    @classmethod
    def fresh(cls, size: int, peer_host: str | None = None) -> ClusterPlan:
        """A new cluster id and free loopback ports for `size` nodes."""
        if not 1 <= size <= MAX_NODES:
            raise StackError(f"a local cluster has 1 to {MAX_NODES} brokers, not {size}")
        nodes = [
            NodePorts(
                node_id=n,
                port=free_port(),
                controller_port=free_port(),
                peer_port=free_port() if peer_host else None,
            )
            for n in range(1, size + 1)
        ]
        return cls(cluster_id=_kafka_uuid(), nodes=nodes, peer_host=peer_host)

    @classmethod
    def load(cls, stack_dir: Path) -> ClusterPlan | None:
        path = stack_dir / PLAN_FILE
        return cls.model_validate_json(path.read_text()) if path.exists() else None

    def save(self, stack_dir: Path) -> None:
        stack_dir.mkdir(parents=True, exist_ok=True)
        (stack_dir / PLAN_FILE).write_text(self.model_dump_json(indent=2))

    @property
    def names(self) -> list[str]:
        """The part names of the nodes, `kafka-1` first."""
        return [node_name(n.node_id) for n in self.nodes]

    @property
    def voters(self) -> str:
        return ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def peer_bootstrap(self) -> str | None:
        """Bootstrap servers on the peer listener (for clients in another namespace)."""
        if not self.peer_host:
            return None
        return ",".join(f"{self.peer_host}:{n.peer_port}" for n in self.nodes)

    def node(self, node_id: int) -> NodePorts:
        return next(n for n in self.nodes if n.node_id == node_id)


def node_name(node_id: int) -> str:
    return f"{NODE_PREFIX}{node_id}"


def node_id_of(name: str) -> int | None:
    """The node id in a part name `kafka-N`, or None when the name is not a node's."""
    match = _NODE_NAME.match(name)
    return int(match.group(1)) if match else None


def _kafka_uuid() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as StorageTool's
    `random-uuid` prints it), made here rather than by a JVM start. Like Kafka's own
    `Uuid.randomUuid`, never one starting with "-": `kafka-storage format --cluster-id -x...`
    takes it for an option (one start in 64 failed so)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def node_properties(plan: ClusterPlan, node_id: int, log_dir: Path) -> str:
    """server.properties of one node: broker and controller, replicated internal topics."""
    me = plan.node(node_id)
    size = len(plan.nodes)
    replicas, min_isr = str(min(3, size)), str(min(2, size))
    listeners = [f"PLAINTEXT://127.0.0.1:{me.port}", f"CONTROLLER://127.0.0.1:{me.controller_port}"]
    advertised = [f"PLAINTEXT://127.0.0.1:{me.port}"]
    protocols = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    if plan.peer_host and me.peer_port:
        listeners.append(f"PEER://{plan.peer_host}:{me.peer_port}")
        advertised.append(f"PEER://{plan.peer_host}:{me.peer_port}")
        protocols.append("PEER:PLAINTEXT")
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": plan.voters,
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": ",".join(protocols),
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "num.replica.fetchers": "1",
        "background.threads": "2",
        "log.flush.interval.messages": "9223372036854775807",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


class KafkaNodePart(Part):
    """One node of the cluster planned in `<stack_dir>/kafka-cluster.json`."""

    node_id: ClassVar[int]

    def launch(self) -> PartRecord:
        plan = ClusterPlan.load(self.stack_dir)
        if plan is None or self.node_id not in {n.node_id for n in plan.nodes}:
            raise StackError(
                f"{self.name}: no cluster planned in {self.stack_dir} "
                "(start it with `databus stack up --brokers N`)"
            )
        java_bin = java()
        self.fresh_run_dir()
        libs = kafka_libs(self.cache_dir, self.log)
        props = self.run_dir / "server.properties"
        props.write_text(node_properties(plan, self.node_id, self.run_dir / "data"))
        base = java_command(java_bin, HEAP)
        classpath = f"{libs}/*"
        format_storage(
            base,
            classpath,
            plan.cluster_id,
            props,
            self.log,
            what=f"kafka-storage format ({self.name})",
        )
        me = plan.node(self.node_id)
        extra: dict[str, object] = {
            "node_id": self.node_id,
            "controller": f"127.0.0.1:{me.controller_port}",
            "cluster_id": plan.cluster_id,
            "libs": str(libs),
        }
        if plan.peer_host:
            extra["peer"] = f"{plan.peer_host}:{me.peer_port}"
        return start_broker(self, base, classpath, props, me.port, extra)

    def probe(self, record: PartRecord) -> bool:
        """This node answers metadata requests itself (the quorum has formed)."""
        admin = AdminClient(
            {
                "bootstrap.servers": record.url,
                "socket.timeout.ms": 2000,
                "log_level": 0,
            }
        )
        try:
            metadata = admin.list_topics(timeout=2)
        except Exception:
            return False
        node_id = int(record.extra.get("node_id", 0))
        return node_id in metadata.brokers

    def cleanup(self, record: PartRecord) -> None:
        """The last node stopped takes the plan with it."""
        super().cleanup(record)
        plan = ClusterPlan.load(self.stack_dir)
        if plan is None:
            return
        others = [n for n in plan.names if n != self.name]
        if not any((self.stack_dir / f"{n}.pid").exists() for n in others):
            (self.stack_dir / PLAN_FILE).unlink(missing_ok=True)


def node_part(name: str) -> type[Part] | None:
    """The part class of node `kafka-N`, or None when `name` is no node's name."""
    node_id = node_id_of(name)
    if node_id is None:
        return None
    return type(f"KafkaNode{node_id}Part", (KafkaNodePart,), {"name": name, "node_id": node_id})


def running_nodes(stack_dir: Path) -> list[str]:
    """Names of this stack's cluster nodes whose process still runs."""
    from databus.stack.process import is_ours
    from databus.stack.state import StackState

    state = StackState.load(stack_dir)
    if state is None:
        return []
    return [
        name
        for name, record in state.parts.items()
        if node_id_of(name) is not None and is_ours(record.pid, record.marker)
    ]


def plan_cluster(stack_dir: Path, size: int, peer_host: str | None = None) -> ClusterPlan:
    """The plan for `stack up --brokers size`: the running cluster's, else a fresh one.

    Refuses when a single broker (`kafka`) runs in the same stack directory, or a cluster of
    another size: one Kafka per stack directory.
    """
    from databus.stack.process import is_ours
    from databus.stack.state import StackState

    state = StackState.load(stack_dir)
    single = state.parts.get("kafka") if state else None
    if single and is_ours(single.pid, single.marker):
        raise StackError(
            f"a single broker runs in {stack_dir}; stop it (`databus stack down`) or use "
            "another DATABUS_STACK_DIR for the cluster"
        )
    plan = ClusterPlan.load(stack_dir)
    if plan and running_nodes(stack_dir):
        if len(plan.nodes) != size:
            raise StackError(
                f"a cluster of {len(plan.nodes)} brokers runs in {stack_dir}; "
                "stop it first (`databus stack down`)"
            )
        return plan
    plan = ClusterPlan.fresh(size, peer_host)
    plan.save(stack_dir)
    return plan


def kafka_part_names(stack_dir: Path, brokers: int) -> list[str]:
    """The Kafka parts `stack up` starts: `kafka` for one broker, else the nodes of a cluster
    of `brokers` (planned here)."""
    if brokers == 1:
        if running_nodes(stack_dir):
            raise StackError(
                f"a cluster runs in {stack_dir}; stop it first (`databus stack down`) "
                "or pass --brokers with its size"
            )
        return ["kafka"]
    return plan_cluster(stack_dir, brokers).names
