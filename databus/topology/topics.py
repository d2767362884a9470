"""Every topic of the bus, derived from the topology and an environment (DESIGN.md §5).

Names follow `<domain>.<dataset>.v<major>`; a `topic_prefix` (tests, tenants) is put before every
name. Use `Topics` to get a name by role instead of writing topic names by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from databus.topology.loader import load_topology
from databus.topology.model import TopicRole, Topology
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

if TYPE_CHECKING:
    from databus.settings import Settings

MAX_TOPIC_NAME_LENGTH: Final = 249
_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class TopicSpec:
    """A topic as it should exist in Kafka. `config` holds only the keys the bus manages."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)
    role: TopicRole | None = None
    owner: str | None = None
    """The source or sector the topic belongs to, if any."""

    @property
    def compacted(self) -> bool:
        """Whether Kafka keeps only the latest record per key."""
        return "compact" in self.config.get("cleanup.policy", "").split(",")

    def as_dict(self) -> dict[str, object]:
        """Machine form, for `--json` output."""
        return {
            "name": self.name,
            "role": self.role.value if self.role else None,
            "owner": self.owner,
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "config": dict(self.config),
        }


class Topics:
    """Topic names and specs of one topology in one environment, with an optional prefix."""

    def __init__(
        self, topology: Topology, environment: str = "local", topic_prefix: str = ""
    ) -> None:
        if not _PREFIX_RE.match(topic_prefix):
            raise ValueError(
                f"topic prefix {topic_prefix!r} may only use letters, digits, '.', '_' and '-'"
            )
        self.topology = topology
        self.environment = environment
        self.prefix = topic_prefix
        self.defaults = topology.defaults_for(environment)

    @classmethod
    def from_settings(cls, settings: Settings, topology: Topology | None = None) -> Topics:
        """Topics for `settings` (topology file, environment, prefix)."""
        if topology is None:
            topology = load_topology(settings.topology)
        return cls(topology, settings.environment, settings.topic_prefix)

    def name(self, base: str) -> str:
        """Put the prefix before an unprefixed topic name."""
        full = f"{self.prefix}{base}"
        if len(full) > MAX_TOPIC_NAME_LENGTH:
            raise ValueError(f"topic name {full!r} is longer than {MAX_TOPIC_NAME_LENGTH} chars")
        return full

    # ------------------------------------------------------------------ by role

    def source_topic(self, source: str) -> str:
        """Topic a source publishes to, e.g. `source_topic("civil-status")`."""
        return self.name(self.topology.source(source).topic)

    def topic_for_event_type(self, event_type: str) -> str:
        """Topic that carries `event_type`."""
        return self.source_topic(self.topology.source_of_event_type(event_type))

    def sector_topic(self, sector: str) -> str:
        """A sector's compacted projection topic, e.g. `sector_topic("tax")`."""
        self.topology.sector(sector)
        return self.name(sector_citizens_topic(sector))

    def verification_requests_topic(self, sector: str) -> str:
        """Topic where `sector` sends verification claims; `KeyError` if it may not verify."""
        self._check_verifies(sector)
        return self.name(verification_requests_topic(sector))

    def verification_results_topic(self, sector: str) -> str:
        """Topic where `sector` receives verification results; `KeyError` if it may not verify."""
        self._check_verifies(sector)
        return self.name(verification_results_topic(sector))

    def _check_verifies(self, sector: str) -> None:
        if not self.topology.sector(sector).verification.enabled:
            raise KeyError(f"sector {sector!r} has no verification enabled")

    @property
    def population_changes(self) -> str:
        """Topic of PopulationChange events written by the population sync."""
        return self.name(POPULATION_CHANGES)

    @property
    def population_citizens(self) -> str:
        """Compacted snapshot of every citizen, keyed by PIN."""
        return self.name(POPULATION_CITIZENS)

    @property
    def dead_letter(self) -> str:
        """Records no component could process, with reason headers."""
        return self.name(DEAD_LETTER)

    @property
    def data_usage(self) -> str:
        """One DataUsage record per release of a citizen's data to a sector."""
        return self.name(DATA_USAGE)

    @property
    def heartbeats(self) -> str:
        """Publisher and component heartbeats."""
        return self.name(HEARTBEATS)

    @property
    def connection_status(self) -> str:
        """Changes of connection health, published by the lag monitor (keyed by connection)."""
        return self.name(CONNECTION_STATUS)

    # ------------------------------------------------------------------ specs

    def _spec(self, base: str, role: TopicRole, owner: str | None = None) -> TopicSpec:
        partitions, isr, retention = self.defaults.for_role(role)
        config = {"min.insync.replicas": str(isr)}
        if role.compacted:
            config["cleanup.policy"] = "compact"
        else:
            config["cleanup.policy"] = "delete"
            config["retention.ms"] = str(retention)
        return TopicSpec(
            self.name(base),
            partitions,
            self.defaults.replication_factor,
            dict(sorted(config.items())),
            role,
            owner,
        )

    def specs(self) -> list[TopicSpec]:
        """Every topic of the bus with its partitions, replication and managed config."""
        out = [
            self._spec(source.topic, TopicRole.SOURCE, name)
            for name, source in self.topology.sources.items()
        ]
        out.append(self._spec(POPULATION_CHANGES, TopicRole.POPULATION_CHANGES))
        out.append(self._spec(POPULATION_CITIZENS, TopicRole.POPULATION_CITIZENS))
        for name, sector in self.topology.sectors.items():
            out.append(self._spec(sector_citizens_topic(name), TopicRole.SECTOR_CITIZENS, name))
            if sector.verification.enabled:
                out.append(
                    self._spec(
                        verification_requests_topic(name), TopicRole.VERIFICATION_REQUESTS, name
                    )
                )
                out.append(
                    self._spec(
                        verification_results_topic(name), TopicRole.VERIFICATION_RESULTS, name
                    )
                )
        out.append(self._spec(DEAD_LETTER, TopicRole.DEAD_LETTER))
        out.append(self._spec(DATA_USAGE, TopicRole.DATA_USAGE))
        out.append(self._spec(HEARTBEATS, TopicRole.HEARTBEATS))
        out.append(self._spec(CONNECTION_STATUS, TopicRole.CONNECTION_STATUS))
        return out

    def spec(self, name: str) -> TopicSpec:
        """The spec of one (prefixed) topic name; `KeyError` if the bus has no such topic."""
        for spec in self.specs():
            if spec.name == name:
                return spec
        raise KeyError(f"no topic {name!r} in the topology")

    def names(self) -> list[str]:
        """Every (prefixed) topic name."""
        return [s.name for s in self.specs()]


def derive_topics(
    topology: Topology, environment: str = "local", topic_prefix: str = ""
) -> list[TopicSpec]:
    """Every topic spec of `topology` in `environment`, names prefixed with `topic_prefix`."""
    return Topics(topology, environment, topic_prefix).specs()
