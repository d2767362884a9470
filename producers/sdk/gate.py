"""What a source may publish: the contracts plus the topology's grants, checked before Kafka."""

from __future__ import annotations

from typing import Any

from databus.contracts import source_domain
from databus.topology.model import Source, Topology
from databus.topology.topics import Topics
from schemas.catalog import EventDomain
from schemas.codec import event_from_data
from schemas.domain import ContractError, Issue
from schemas.models.envelope import Event


class NotGrantedError(ContractError):
    """The topology does not let this source publish the event; nothing was sent."""


class SourceGate:
    """Validates events for one source: contract rules, granted event types, signing agency."""

    def __init__(self, topics: Topics, source: str) -> None:
        self.source_name = resolve_source(topics.topology, source)
        self.source: Source = topics.topology.source(self.source_name)
        self.domain: EventDomain = source_domain(topics, self.source_name)
        self._granted = frozenset(self.source.event_types)
        self._agency = self.source.agency

    def check(self, event: Event | dict[str, Any], *, record: str | None = None) -> Event:
        """The validated event, or ContractError / NotGrantedError naming field and rule."""
        model = event if isinstance(event, Event) else event_from_data(self.domain, event, record)
        if model.event_type in self._granted and model.source == self._agency:
            return model
        raise self._refusal(model, record)

    def grants(self, data: dict[str, Any]) -> bool:
        """Whether the topology lets this source publish valid event data (its type granted,
        signed by the source's agency); the same answer `check` gives for its model."""
        return data["event_type"] in self._granted and data["source"] == self._agency

    def _refusal(self, model: Event, record: str | None) -> NotGrantedError:
        """Why the topology refuses a valid event (its label formatted only now)."""
        if model.event_type not in self._granted:
            issue = Issue(
                "event_type",
                "source.not_granted",
                f"the topology does not grant {model.event_type} to source {self.source_name}",
            )
        else:
            issue = Issue(
                "source",
                "source.mismatch",
                f"the event is signed by another agency than {self._agency}",
            )
        return NotGrantedError([issue], record=record or f"event {model.event_id}")


def resolve_source(topology: Topology, source: str) -> str:
    """The source name for a source name or an agency id; KeyError listing the known ones."""
    if source in topology.sources:
        return source
    for name, candidate in topology.sources.items():
        if candidate.agency == source:
            return name
    raise KeyError(
        f"no source or agency {source!r} in the topology (sources: {', '.join(topology.sources)})"
    )
