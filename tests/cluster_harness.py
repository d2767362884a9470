"""The 3-broker cluster of the fault tests, and the network namespace they cut a sink off with.

`cluster` (session fixture) runs `databus stack up --brokers 3` plus the registry and PostgreSQL
in a stack directory of its own (`.stack-cluster`, or DATABUS_CLUSTER_STACK_DIR), so the
single-broker stack of the rest of the suite is untouched. Reused when it already runs and
answers; stopped at the end when this run started it.

The network partition needs a client in another network namespace that reaches the brokers
over a link the test can cut. Before the brokers start, `PeerNamespace` makes a namespace and a
veth pair with link-local addresses (169.254.213.1 on this side, .2 inside; link-local is never
routed off the link, so nothing outside this machine can reach them), and every broker gets a
second listener (`PEER`) on 169.254.213.1, advertised as such. A client in the namespace
bootstraps from `Cluster.peer_bootstrap`. The registry and PostgreSQL listen on loopback only;
the namespace reaches them through `socat` bridges over unix sockets (a filesystem path crosses
namespaces; a cut veth does not touch them), on the same loopback addresses inside as outside,
so the client's URLs are the usual ones. `PeerNamespace.cut()` takes this side of the veth
down: the client's packets to the brokers are dropped silently (no reset, no error), as in a
partition; `heal()` brings it up again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from databus.settings import Settings
from databus.stack.cluster import ClusterPlan, plan_cluster
from databus.stack.launcher import Stack
from databus.stack.process import is_ours
from databus.stack.state import PartRecord, StackState
from tests.stack_access import StackAddresses, fresh_databases

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BROKERS = 3
NAMESPACE = "databus-faults"
HOST_LINK, PEER_LINK = "dbf-host", "dbf-peer"
HOST_ADDRESS, PEER_ADDRESS = "169.254.213.1", "169.254.213.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def namespace_unavailable() -> str | None:
    """Why no namespace can be made here (no `ip`, no `socat`, not root), or None."""
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    if shutil.which("socat") is None:
        return "`socat` is not installed (it bridges the registry and PostgreSQL)"
    if os.geteuid() != 0:
        return "making a network namespace needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
    return None


@dataclass
class PeerNamespace:
    """A network namespace joined to this one by a veth pair that the test can cut."""

    bridges: list[subprocess.Popen[bytes]] = field(default_factory=list)
    socket_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dbf-")))

    def create(self) -> None:
        self.destroy_links()
        _ip("netns", "add", NAMESPACE)
        _ip("link", "add", HOST_LINK, "type", "veth", "peer", "name", PEER_LINK, "netns", NAMESPACE)
        _ip("addr", "add", f"{HOST_ADDRESS}/30", "dev", HOST_LINK)
        _ip("link", "set", HOST_LINK, "up")
        _ip("-n", NAMESPACE, "addr", "add", f"{PEER_ADDRESS}/30", "dev", PEER_LINK)
        _ip("-n", NAMESPACE, "link", "set", PEER_LINK, "up")
        _ip("-n", NAMESPACE, "link", "set", "lo", "up")

    def bridge(self, address: str) -> None:
        """Make `host:port` (on loopback here) reachable at the same address in the namespace."""
        host, port = address.rsplit(":", 1)
        sock = self.socket_dir / f"{port}.sock"
        self.bridges.append(
            _daemon(["socat", f"UNIX-LISTEN:{sock},fork,reuseaddr", f"TCP:{host}:{port}"])
        )
        self.bridges.append(
            _daemon(
                [
                    "ip",
                    "netns",
                    "exec",
                    NAMESPACE,
                    "socat",
                    f"TCP-LISTEN:{port},bind={host},fork,reuseaddr",
                    f"UNIX-CONNECT:{sock}",
                ]
            )
        )

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside the namespace."""
        return ["ip", "netns", "exec", NAMESPACE, *argv]

    def cut(self) -> None:
        _ip("link", "set", HOST_LINK, "down")

    def heal(self) -> None:
        _ip("link", "set", HOST_LINK, "up")

    def destroy_links(self) -> None:
        subprocess.run(["ip", "link", "del", HOST_LINK], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True, check=False)

    def destroy(self) -> None:
        for bridge in self.bridges:
            if bridge.poll() is None:
                os.killpg(bridge.pid, signal.SIGTERM)
                bridge.wait(10)
        self.destroy_links()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def _daemon(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@dataclass
class Cluster(StackAddresses):
    """The running cluster: addresses, and one broker at a time to kill, freeze or restart."""

    stack: Stack
    namespace: PeerNamespace | None
    no_namespace: str | None = None
    """Why there is no peer namespace (the partition test is skipped with it)."""

    @property
    def state(self) -> StackState:
        return self.stack.state()

    @property
    def plan(self) -> ClusterPlan:
        plan = ClusterPlan.load(self.stack.stack_dir)
        assert plan is not None
        return plan

    @property
    def bootstrap(self) -> str:
        return self.plan.bootstrap

    @property
    def peer_bootstrap(self) -> str | None:
        return self.plan.peer_bootstrap

    @property
    def postgres_url(self) -> str:
        return self.database_url("postgres")

    @property
    def nodes(self) -> list[str]:
        return self.plan.names

    def record(self, node: str) -> PartRecord:
        return self.state.parts[node]

    def leader_of(self, topic: str, partition: int = 0) -> str:
        """The node leading `topic`'s `partition` now."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        meta = admin.list_topics(topic, timeout=10)
        return f"kafka-{meta.topics[topic].partitions[partition].leader}"

    def kill(self, node: str) -> None:
        self.stack.stop_part(node, kill=True)

    def restart(self, node: str) -> None:
        self.stack.start_part(node)

    def freeze(self, node: str) -> None:
        record = self.record(node)
        assert is_ours(record.pid, record.marker)
        os.kill(record.pid, signal.SIGSTOP)

    def thaw(self, node: str) -> None:
        os.kill(self.record(node).pid, signal.SIGCONT)

    def settings(self, topic_prefix: str) -> Settings:
        """Settings for this cluster, topics replicated as `local-cluster` says."""
        return Settings(
            bootstrap_servers=self.bootstrap,
            registry_url=self.registry_url,
            topology=PROJECT_ROOT / "deploy" / "topology.yaml",
            environment="local-cluster",
            topic_prefix=topic_prefix,
            stack_dir=self.stack.stack_dir,
        )

    def all_nodes_running(self) -> bool:
        """Every node's process runs and is not stopped (SIGSTOP)."""
        for node in self.nodes:
            record = self.record(node)
            if not is_ours(record.pid, record.marker):
                return False
            state = Path(f"/proc/{record.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "T":
                return False
        return True


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """Three KRaft brokers, the registry and PostgreSQL in `.stack-cluster`, and the peer
    namespace when one can be made here (else `Cluster.namespace` is None)."""
    stack_dir = Path(os.environ.get("DATABUS_CLUSTER_STACK_DIR", PROJECT_ROOT / ".stack-cluster"))
    stack = Stack(stack_dir, Settings().cache_dir)
    parts = ["registry", "postgres"]
    existing = ClusterPlan.load(stack.stack_dir)
    running = stack.running()
    reuse = existing is not None and set(existing.names) | set(parts) <= running
    namespace: PeerNamespace | None = None
    why = "the reused cluster was started without a peer listener" if reuse else None
    if not reuse:
        why = namespace_unavailable()
        if why is None:
            namespace = PeerNamespace()
            try:
                namespace.create()
            except subprocess.CalledProcessError as exc:
                why = f"`ip {' '.join(map(str, exc.cmd[1:]))}` failed: {exc.stderr.decode()}"
                namespace.destroy()
                namespace = None
    started: list[str] = []
    try:
        if not reuse:
            if running:
                stack.down(report=lambda line: print(f"[cluster] {line}"))
            plan = plan_cluster(stack.stack_dir, BROKERS, HOST_ADDRESS if namespace else None)
            names = [*plan.names, *parts]
            stack.up(names, report=lambda line: print(f"[cluster] {line}"))
            started = names
        if namespace is not None:
            state = stack.state()
            for name in parts:
                namespace.bridge(state.parts[name].address)
        yield Cluster(stack, namespace, why)
    finally:
        if started:
            for name in stack.state().parts:  # a frozen broker would not stop
                record = stack.state().parts[name]
                if is_ours(record.pid, record.marker):
                    os.kill(record.pid, signal.SIGCONT)
            stack.down(started, report=lambda line: print(f"[cluster] {line}"))
        if namespace is not None:
            namespace.destroy()


@pytest.fixture
def pg_cluster_databases(cluster: Cluster) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases on the cluster's PostgreSQL, dropped afterwards."""
    with fresh_databases(cluster.postgres_url, "f_") as make:
        yield make
