"""The long-running components Prometheus scrapes, and the metrics port of each.

The ports are a plan for one host (`--metrics-port` of each `databus run ...`); the generated
`deploy/prometheus/prometheus.yml` scrapes exactly these. Sinks get one port per sector, in
topology order.
"""

from __future__ import annotations

from dataclasses import dataclass

from databus.topology.model import Topology

MONITOR_PORT = 9308
SINK_BASE_PORT = 9410


@dataclass(frozen=True)
class Component:
    """A scrape target: its `component` label (as in `databus_component_ready`), the command
    that runs it, and its metrics port."""

    name: str
    command: str
    port: int


def components(topology: Topology) -> list[Component]:
    """Every long-running component of the bus, the lag monitor first."""
    fixed = [
        Component("monitor", "databus run monitor", MONITOR_PORT),
        Component("population-sync", "databus run population-sync", 9401),
        Component("router", "databus run router", 9402),
        Component("outbox-relay", "databus run outbox-relay", 9403),
        Component("usage-recorder", "databus run usage-recorder", 9404),
        Component("verifier", "databus run verifier", 9405),
    ]
    sinks = [
        Component(f"sink-{sector}", f"databus run sink {sector}", SINK_BASE_PORT + index)
        for index, sector in enumerate(topology.sectors)
    ]
    return fixed + sinks
