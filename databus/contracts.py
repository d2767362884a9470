"""Which contract each topic of the topology carries (its registry subject and schema)."""

from __future__ import annotations

from dataclasses import dataclass

from databus.registry import value_subject
from databus.topology.model import TopicRole
from databus.topology.topics import Topics
from schemas.catalog import EVENT_DOMAINS, EventDomain
from schemas.event_types import EVENT_TYPES_BY_NAME
from schemas.models.base import Contract
from schemas.models.citizen import Citizen
from schemas.models.downstream import (
    ConnectionStatusChanged,
    DataUsage,
    DeadLetter,
    Heartbeat,
    PopulationChange,
    SectorProjection,
    VerificationRequest,
    VerificationResult,
)

_RECORD_OF_ROLE: dict[TopicRole, type[Contract]] = {
    TopicRole.POPULATION_CHANGES: PopulationChange,
    TopicRole.POPULATION_CITIZENS: Citizen,
    TopicRole.SECTOR_CITIZENS: SectorProjection,
    TopicRole.VERIFICATION_REQUESTS: VerificationRequest,
    TopicRole.VERIFICATION_RESULTS: VerificationResult,
    TopicRole.DEAD_LETTER: DeadLetter,
    TopicRole.DATA_USAGE: DataUsage,
    TopicRole.HEARTBEATS: Heartbeat,
    TopicRole.CONNECTION_STATUS: ConnectionStatusChanged,
}


@dataclass(frozen=True)
class Binding:
    """A topic, its value subject, the schema file it uses and what its values decode into."""

    topic: str
    schema_name: str
    target: EventDomain | type[Contract]

    @property
    def subject(self) -> str:
        return value_subject(self.topic)


def bindings(topics: Topics) -> list[Binding]:
    """The contract of every topic the topology derives."""
    result = []
    for spec in topics.specs():
        if spec.role is TopicRole.SOURCE:
            domain = source_domain(topics, spec.owner or "")
            result.append(Binding(spec.name, domain.record_name, domain))
        elif spec.role is not None:
            model = _RECORD_OF_ROLE[spec.role]
            result.append(Binding(spec.name, model.__name__, model))
    return result


def source_domain(topics: Topics, source: str) -> EventDomain:
    """The event domain a source publishes (all its event types share one domain)."""
    event_types = topics.topology.source(source).event_types
    domains = {EVENT_TYPES_BY_NAME[et].domain for et in event_types}
    if len(domains) != 1:
        raise ValueError(f"source {source!r} mixes event domains {sorted(domains)}")
    return EVENT_DOMAINS[domains.pop()]


def binding_for(topics: Topics, topic: str) -> Binding:
    """The binding of one (prefixed) topic name."""
    for binding in bindings(topics):
        if binding.topic == topic:
            return binding
    raise KeyError(f"no contract for topic {topic!r}")
