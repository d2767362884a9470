"""The ACLs the topology implies: least privilege for every principal (DESIGN.md §8).

Pure code: the same derivation feeds `databus acl plan|apply` (the broker's ACLs) and the
Kubernetes `KafkaUser` manifests. Nothing here talks to a broker.

- a source agency writes only its source topic(s) and the heartbeats;
- a sector agency reads only its own `sector.<name>.` topics, with consumer groups prefixed
  `sector.<name>.`, and writes only its verification requests (if it may verify);
- each component gets exactly the topics and the consumer group it uses;
- the admin gets nothing here: it is the broker's super user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from databus.consumer_groups import POPULATION_SYNC, SECTOR_ROUTER, sink_group
from databus.security import principals as p
from databus.topology.model import Topology
from databus.topology.names import SECTOR_TOPIC_PREFIX
from databus.topology.topics import Topics

ResourceType = Literal["topic", "group", "cluster", "transactional_id"]
PatternType = Literal["literal", "prefixed"]

CLUSTER: Final = "kafka-cluster"
VERIFIER_GROUP: Final = "verifier"
USAGE_GROUP: Final = "data-usage"
MONITOR_GROUP_PREFIX: Final = "databus-monitor-"
"""The monitor's own short-lived consumers (heartbeats, status log, timestamps)."""


@dataclass(frozen=True, order=True)
class AclRule:
    """One allow rule for `User:<principal>` (Kafka's operation names: Read, Write, Describe...)."""

    principal: str
    resource_type: ResourceType
    pattern_type: PatternType
    name: str
    operation: str
    permission: Literal["allow"] = "allow"
    host: str = "*"

    def __str__(self) -> str:
        pattern = "" if self.pattern_type == "literal" else f" ({self.pattern_type})"
        return (
            f"User:{self.principal} {self.permission} {self.operation} on "
            f"{self.resource_type} {self.name}{pattern} from {self.host}"
        )


def sector_group_prefix(sector: str, topic_prefix: str = "") -> str:
    """The consumer-group prefix a sector's own consumers must use: `sector.<name>.`."""
    return f"{topic_prefix}{SECTOR_TOPIC_PREFIX}{sector}."


class _Rules:
    """Collects the rules of one derivation."""

    def __init__(self) -> None:
        self.rules: set[AclRule] = set()

    def topic(self, who: str, name: str, *ops: str, pattern: PatternType = "literal") -> None:
        self.rules.update(AclRule(who, "topic", pattern, name, op) for op in ops)

    def group(
        self, who: str, name: str, op: str = "Read", pattern: PatternType = "literal"
    ) -> None:
        self.rules.add(AclRule(who, "group", pattern, name, op))

    def cluster(self, who: str, op: str) -> None:
        self.rules.add(AclRule(who, "cluster", "literal", CLUSTER, op))


def implied_acls(topology: Topology, topic_prefix: str = "") -> frozenset[AclRule]:
    """Every allow rule the topology implies; topic and group names carry `topic_prefix`."""
    topics = Topics(topology, topic_prefix=topic_prefix)
    out = _Rules()
    _agencies(topology, topics, out)
    _pipeline(topology, topics, out)
    _monitor(topology, topics, out)
    return frozenset(out.rules)


def _agencies(topology: Topology, topics: Topics, out: _Rules) -> None:
    for source_name, source in topology.sources.items():
        who = p.agency_principal(source.agency)
        out.topic(who, topics.source_topic(source_name), "Write", "Describe")
        out.topic(who, topics.heartbeats, "Write", "Describe")
    for sector_name, sector in topology.sectors.items():
        who = p.agency_principal(sector.agency)
        own = topics.name(f"{SECTOR_TOPIC_PREFIX}{sector_name}.")
        out.topic(who, own, "Read", "Describe", pattern="prefixed")
        out.group(who, sector_group_prefix(sector_name, topics.prefix), pattern="prefixed")
        if sector.verification.enabled:
            out.topic(who, topics.verification_requests_topic(sector_name), "Write")


def _pipeline(topology: Topology, topics: Topics, out: _Rules) -> None:
    prefix, dlq = topics.prefix, topics.dead_letter
    sync = p.POPULATION_SYNC
    for source_name in topology.sources:
        out.topic(sync, topics.source_topic(source_name), "Read", "Describe")
    out.group(sync, prefix + POPULATION_SYNC)
    out.topic(sync, dlq, "Write", "Describe")

    relay = p.OUTBOX_RELAY
    out.topic(relay, topics.population_changes, "Write", "Describe")
    out.topic(relay, topics.population_citizens, "Write", "Describe")

    router = p.ROUTER
    out.topic(router, topics.population_changes, "Read", "Describe")
    out.group(router, prefix + SECTOR_ROUTER)
    for sector_name in topology.sectors:
        out.topic(router, topics.sector_topic(sector_name), "Write", "Describe")
    out.topic(router, topics.data_usage, "Write", "Describe")
    out.topic(router, dlq, "Write", "Describe")

    for sector_name in topology.sectors:
        sink = p.sink_principal(sector_name)
        out.topic(sink, topics.sector_topic(sector_name), "Read", "Describe")
        out.group(sink, prefix + sink_group(sector_name))
        out.topic(sink, dlq, "Write", "Describe")

    verifier = p.VERIFIER
    for sector_name, sector in topology.sectors.items():
        if sector.verification.enabled:
            out.topic(verifier, topics.verification_requests_topic(sector_name), "Read", "Describe")
            out.topic(verifier, topics.verification_results_topic(sector_name), "Write", "Describe")
    out.group(verifier, prefix + VERIFIER_GROUP)
    out.topic(verifier, topics.data_usage, "Write", "Describe")
    out.topic(verifier, dlq, "Write", "Describe")

    usage = p.USAGE_RECORDER
    out.topic(usage, topics.data_usage, "Read", "Describe")
    out.group(usage, prefix + USAGE_GROUP)
    out.topic(usage, dlq, "Write", "Describe")


def _monitor(topology: Topology, topics: Topics, out: _Rules) -> None:
    """Lag in messages and seconds: it describes the components' groups and reads record
    timestamps on the hops it watches (it never decodes a value)."""
    monitor, prefix = p.MONITOR, topics.prefix
    watched = [topics.source_topic(s) for s in topology.sources]
    watched += [topics.population_changes, topics.heartbeats, topics.connection_status]
    watched += [topics.sector_topic(s) for s in topology.sectors]
    for name in watched:
        out.topic(monitor, name, "Read", "Describe")
    out.topic(monitor, topics.connection_status, "Write")
    groups = [POPULATION_SYNC, SECTOR_ROUTER, *(sink_group(s) for s in topology.sectors)]
    for name in groups:
        out.group(monitor, prefix + name, "Describe")
    out.group(monitor, MONITOR_GROUP_PREFIX, pattern="prefixed")
    out.cluster(monitor, "Describe")
