"""Which consumer groups, topics, heartbeats and database carry each connection of the topology.

A `source -> population` connection is the population sync's group on the source topic; a
`population -> sector` connection is two hops: the router's group on population changes, then
the sector sink's group on the sector's topic. The publisher's heartbeats are those of the
upstream agency; the database probed for SINK_FAILING is the downstream sector's.
"""

from __future__ import annotations

from dataclasses import dataclass

from databus.consumer_groups import POPULATION_SYNC, SECTOR_ROUTER, sink_group
from databus.topology.model import Topology
from databus.topology.topics import Topics


@dataclass(frozen=True)
class Hop:
    """One consumer group reading one topic on the way of a connection."""

    group: str
    topic: str


@dataclass(frozen=True)
class ConnectionSpec:
    """What the monitor watches for one connection, and its objectives."""

    name: str
    hops: tuple[Hop, ...]
    agency: str
    """The upstream agency whose heartbeats say the publisher is alive."""
    heartbeat_interval_seconds: float
    freshness_seconds: float
    freshness_percentile: float
    database_url_env: str | None
    """The downstream sector's database URL variable (probed), None for the population."""


def connection_specs(
    topology: Topology, topics: Topics, group_prefix: str = ""
) -> list[ConnectionSpec]:
    """Every connection of the topology, in topology order."""
    out = []
    for name, connection in topology.connections.items():
        up, down = connection.upstream, connection.downstream
        if up.kind == "source" and up.name is not None:
            hops: tuple[Hop, ...] = (
                Hop(group_prefix + POPULATION_SYNC, topics.source_topic(up.name)),
            )
            agency = topology.source(up.name).agency
            db_env = None
        elif down.kind == "sector" and down.name is not None:
            hops = (
                Hop(group_prefix + SECTOR_ROUTER, topics.population_changes),
                Hop(group_prefix + sink_group(down.name), topics.sector_topic(down.name)),
            )
            agency = topology.population.agency
            db_env = topology.sector(down.name).database_url_env
        else:  # the loader admits only the two shapes above
            raise ValueError(f"connection {name}: unsupported endpoints")
        objectives = connection.objectives
        out.append(
            ConnectionSpec(
                name=name,
                hops=hops,
                agency=agency,
                heartbeat_interval_seconds=objectives.heartbeat_interval_seconds,
                freshness_seconds=objectives.freshness.seconds,
                freshness_percentile=objectives.freshness.percentile,
                database_url_env=db_env,
            )
        )
    return out
