"""The topology: one file (`deploy/topology.yaml`) decides the shape of the bus (DESIGN.md §3).

from databus.topology import load_topology, Topics

topology = load_topology("deploy/topology.yaml")   # TopologyError lists every problem
topics = Topics(topology, environment="local", topic_prefix="")
topics.source_topic("civil-status"), topics.sector_topic("tax"), topics.dead_letter
"""

from databus.topology.errors import TopologyError, TopologyProblem
from databus.topology.loader import load_topology, parse_topology
from databus.topology.model import (
    Agency,
    Connection,
    Endpoint,
    LegalBasis,
    Population,
    Sector,
    Source,
    TopicDefaults,
    TopicRole,
    Topology,
    Verification,
)
from databus.topology.topics import Topics, TopicSpec, derive_topics

__all__ = [
    "Agency",
    "Connection",
    "Endpoint",
    "LegalBasis",
    "Population",
    "Sector",
    "Source",
    "TopicDefaults",
    "TopicRole",
    "TopicSpec",
    "Topics",
    "Topology",
    "TopologyError",
    "TopologyProblem",
    "Verification",
    "derive_topics",
    "load_topology",
    "parse_topology",
]
