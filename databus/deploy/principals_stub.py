"""TEMPORARY stand-in for issue 14's principals and ACLs, so that `deploy render` has something to
render until `databus.security` lands.

It mirrors the agreed interface: `bus_principals(topology) -> list[Principal]` and
`implied_acls(topology, topic_prefix="") -> frozenset[AclRule]`. At merge time the lead swaps the
one import in `databus/deploy/acl_source.py` for `databus.security.principals` / `.acls` and
deletes this file. The rules here are the obvious ones: each agency writes its source topic and
reads its sector's topics; each component reads and writes what it consumes and produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from databus.deploy.workloads import workloads
from databus.topology.model import Topology
from databus.topology.names import (
    CONNECTION_STATUS,
    DATA_USAGE,
    DEAD_LETTER,
    HEARTBEATS,
    POPULATION_CHANGES,
    POPULATION_CITIZENS,
    sector_citizens_topic,
    verification_requests_topic,
    verification_results_topic,
)

ResourceType = Literal["topic", "group", "cluster", "transactional_id"]
PatternType = Literal["literal", "prefixed"]


@dataclass(frozen=True)
class Principal:
    """A Kafka user of the bus."""

    name: str
    kind: Literal["agency", "component", "admin"]


@dataclass(frozen=True)
class AclRule:
    """One allowed (or denied) operation of a principal on a resource."""

    principal: str
    resource_type: ResourceType
    pattern_type: PatternType
    name: str
    operation: str
    permission: str = "allow"
    host: str = "*"


ADMIN = "databus-admin"


def agency_principal(agency_id: str) -> str:
    """`VN/GOV/BTP/hotich` -> `vn-gov-btp-hotich`."""
    return agency_id.lower().replace("/", "-")


def bus_principals(topology: Topology) -> list[Principal]:
    """One principal per agency, one per component, and the administrator."""
    agencies = [Principal(agency_principal(a.id), "agency") for a in topology.agencies]
    components = [Principal(w.principal, "component") for w in workloads(topology)]
    return [*agencies, *components, Principal(ADMIN, "admin")]


def _topic(principal: str, topic: str, *operations: str) -> list[AclRule]:
    return [AclRule(principal, "topic", "literal", topic, op) for op in operations]


def _group(principal: str, group: str) -> list[AclRule]:
    return [AclRule(principal, "group", "literal", group, "READ")]


def _producer(principal: str) -> list[AclRule]:
    return [AclRule(principal, "cluster", "literal", "kafka-cluster", "IDEMPOTENT_WRITE")]


def implied_acls(topology: Topology, topic_prefix: str = "") -> frozenset[AclRule]:
    """The rules the topology implies (stand-in; see the module docstring)."""
    p = topic_prefix
    rules: list[AclRule] = []
    for source in topology.sources.values():
        user = agency_principal(source.agency)
        rules += _topic(user, p + source.topic, "WRITE", "DESCRIBE")
        rules += _topic(user, p + HEARTBEATS, "WRITE", "DESCRIBE")
        rules += _producer(user)
    for name, sector in topology.sectors.items():
        user = agency_principal(sector.agency)
        rules += _topic(user, p + sector_citizens_topic(name), "READ", "DESCRIBE")
        if sector.verification.enabled:
            rules += _topic(user, p + verification_requests_topic(name), "WRITE", "DESCRIBE")
            rules += _topic(user, p + verification_results_topic(name), "READ", "DESCRIBE")
            rules += _producer(user)
        rules.append(AclRule(user, "group", "prefixed", f"{name}-", "READ"))
    sources = [p + s.topic for s in topology.sources.values()]
    sectors = [p + sector_citizens_topic(s) for s in topology.sectors]
    verifying = [s for s, sector in topology.sectors.items() if sector.verification.enabled]
    for work in workloads(topology):
        user = work.principal
        reads: list[str] = []
        writes: list[str] = [p + DEAD_LETTER]
        if work.name == "population-sync":
            reads = sources
        elif work.name == "outbox-relay":
            writes += [p + POPULATION_CHANGES, p + POPULATION_CITIZENS]
        elif work.name == "router":
            reads = [p + POPULATION_CHANGES]
            writes += [*sectors, p + DATA_USAGE]
        elif work.name.startswith("sink-"):
            reads = [p + sector_citizens_topic(work.name.removeprefix("sink-"))]
        elif work.name == "verifier":
            reads = [p + verification_requests_topic(s) for s in verifying]
            writes += [p + verification_results_topic(s) for s in verifying] + [p + DATA_USAGE]
        elif work.name == "usage-recorder":
            reads = [p + DATA_USAGE]
        elif work.name == "monitor":
            reads = [p + HEARTBEATS]
            writes += [p + CONNECTION_STATUS]
            rules.append(AclRule(user, "group", "literal", "*", "DESCRIBE"))
        for topic in reads:
            rules += _topic(user, topic, "READ", "DESCRIBE")
        for topic in writes:
            rules += _topic(user, topic, "WRITE", "DESCRIBE")
        rules += _producer(user)
        if work.group is not None:
            rules += _group(user, work.group)
    return frozenset(rules)
