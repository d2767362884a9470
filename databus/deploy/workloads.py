"""The bus's long-running components as deployable workloads: the `databus` arguments that run
each one, its health port, how many replicas, which database it needs, its consumer group and
its Kafka principal.

One list, derived from the topology and from `databus.observability.components` (the metrics
port plan Prometheus scrapes), feeds the Kubernetes manifests, the compose file and the
temporary principals. The arguments are real `databus` commands (a test parses every one).
"""

from __future__ import annotations

from dataclasses import dataclass

from databus.observability.components import components
from databus.security.principals import component_principal
from databus.topology.model import Topology

MONITOR = "monitor"
NPD_OUTBOX_TABLE = "npd_outbox"

REPLICAS: dict[str, int] = {
    "population-sync": 3,  # serialized per citizen by row locks (docs/population-sync.md)
    "router": 2,
    "verifier": 2,
    "outbox-relay": 2,  # one holds the outbox's lease, the other waits as a standby
    "usage-recorder": 1,
    MONITOR: 1,  # one judge of connection health; its state is rebuilt from Kafka on restart
}
SINK_REPLICAS = 2

GROUPS: dict[str, str] = {
    "population-sync": "population-sync",
    "router": "sector-router",
    "verifier": "verifier",
    "usage-recorder": "data-usage",
}
"""The components' default consumer groups (`--group` of each `databus run`)."""


@dataclass(frozen=True)
class Workload:
    """One component as it is deployed."""

    name: str
    """The `component` label of its metrics, e.g. `sink-tax`."""
    args: tuple[str, ...]
    """Arguments of the `databus` command that runs it."""
    port: int
    """Where it serves /metrics, /healthz and /readyz (the monitor: its board too)."""
    replicas: int
    database_env: str | None
    """The environment variable holding its database URL, if it has one."""
    group: str | None
    """Its consumer group, if it consumes."""

    @property
    def principal(self) -> str:
        """Its Kafka user name (the one `databus acl` grants)."""
        return component_principal(self.name)


def _workload(name: str, command: str, port: int, topology: Topology) -> Workload:
    npd = topology.population.database_url_env
    base = tuple(command.split()[1:])  # drop the leading `databus`
    if name == MONITOR:
        return Workload(name, (*base, "--port", str(port)), port, REPLICAS[name], None, None)
    args = (*base, "--metrics-port", str(port))
    if name.startswith("sink-"):
        sector = name.removeprefix("sink-")
        env = topology.sector(sector).database_url_env
        return Workload(name, args, port, SINK_REPLICAS, env, f"sink-{sector}")
    if name == "outbox-relay":
        args = (*base, "--table", NPD_OUTBOX_TABLE, "--database-url-env", npd, *args[len(base) :])
        return Workload(name, args, port, REPLICAS[name], npd, None)
    return Workload(name, args, port, REPLICAS[name], npd, GROUPS[name])


def workloads(topology: Topology) -> list[Workload]:
    """Every long-running component, in the order of the scrape plan (the monitor first)."""
    return [_workload(c.name, c.command, c.port, topology) for c in components(topology)]
