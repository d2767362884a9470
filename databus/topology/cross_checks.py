"""The topology checks that need more than one item: references, duplicates, coverage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from databus.topology.errors import Loc
from databus.topology.model import Agency, Connection, Endpoint, Population, Sector, Source
from databus.topology.names import RESERVED_TOPICS, SECTOR_TOPIC_PREFIX


class ProblemSink(Protocol):
    """Where a check reports a problem at a YAML path."""

    def add(self, loc: Loc, message: str) -> None: ...


class KnownNames:
    """Names declared in the document, even by items that are otherwise invalid.

    Cross checks use these so that one mistake is not echoed as many "unknown X" problems.
    """

    def __init__(self, agencies: set[str], sources: set[str], sectors: set[str]) -> None:
        self.agencies = agencies
        self.sources = sources
        self.sectors = sectors

    @classmethod
    def of(cls, root: Mapping[str, Any]) -> KnownNames:
        raw_agencies = root.get("agencies")
        agencies = (
            {str(a["id"]) for a in raw_agencies if isinstance(a, dict) and "id" in a}
            if isinstance(raw_agencies, list)
            else set()
        )

        def keys(section: str) -> set[str]:
            raw = root.get(section)
            return {str(k) for k in raw} if isinstance(raw, dict) else set()

        return cls(agencies, keys("sources"), keys("sectors"))


class CrossChecks:
    """Checks that need more than one item: references, duplicates, coverage."""

    def __init__(self, checker: ProblemSink, known: KnownNames) -> None:
        self.c = checker
        self.known = known

    def run(
        self,
        population: Population | None,
        agencies: dict[int, Agency],
        sources: dict[str, Source],
        sectors: dict[str, Sector],
        connections: dict[str, Connection],
    ) -> None:
        self._agencies(agencies)
        if population is not None:
            self._agency_ref(("population", "agency"), population.agency)
        self._sources(sources)
        self._sectors(sectors)
        self._connections(population, sources, sectors, connections)

    def _agency_ref(self, loc: Loc, agency_id: str) -> None:
        if agency_id not in self.known.agencies:
            self.c.add(loc, f"unknown agency {agency_id!r} (declare it under agencies)")

    def _duplicates(self, loc: Loc, values: tuple[str, ...], what: str) -> None:
        first: dict[str, int] = {}
        for i, value in enumerate(values):
            if value in first:
                self.c.add(
                    (*loc, i), f"{what} {value!r} is listed twice (first at [{first[value]}])"
                )
            else:
                first[value] = i

    def _agencies(self, agencies: dict[int, Agency]) -> None:
        first: dict[str, int] = {}
        for i, agency in agencies.items():
            if agency.id in first:
                where = f"agencies[{first[agency.id]}]"
                self.c.add(
                    ("agencies", i, "id"),
                    f"duplicate agency {agency.id!r} (first declared at {where})",
                )
            else:
                first[agency.id] = i

    def _sources(self, sources: dict[str, Source]) -> None:
        topics: dict[str, str] = {}
        event_types: dict[str, str] = {}
        fields: dict[str, str] = {}
        for name, source in sources.items():
            loc: Loc = ("sources", name)
            self._agency_ref((*loc, "agency"), source.agency)
            if source.topic in RESERVED_TOPICS or source.topic.startswith(SECTOR_TOPIC_PREFIX):
                self.c.add(
                    (*loc, "topic"), f"topic {source.topic!r} is reserved for the bus itself"
                )
            elif source.topic in topics:
                self.c.add(
                    (*loc, "topic"),
                    f"topic {source.topic!r} is already used by source {topics[source.topic]!r}",
                )
            else:
                topics[source.topic] = name
            self._claim(
                (*loc, "event_types"),
                source.event_types,
                event_types,
                name,
                "event type {value!r} is already published by source {owner!r}",
            )
            self._claim(
                (*loc, "authoritative_for"),
                source.authoritative_for,
                fields,
                name,
                "field {value!r} already has an authoritative source: {owner!r}",
            )

    def _claim(
        self, loc: Loc, values: tuple[str, ...], owners: dict[str, str], name: str, template: str
    ) -> None:
        """Each value may belong to one source only; report a second claim or a repeat."""
        seen: dict[str, int] = {}
        for i, value in enumerate(values):
            if value in seen:
                self.c.add((*loc, i), f"{value!r} is listed twice (first at [{seen[value]}])")
                continue
            seen[value] = i
            if value in owners:
                self.c.add((*loc, i), template.format(value=value, owner=owners[value]))
            else:
                owners[value] = name

    def _sectors(self, sectors: dict[str, Sector]) -> None:
        env_vars: dict[str, str] = {}
        for name, sector in sectors.items():
            loc: Loc = ("sectors", name)
            self._agency_ref((*loc, "agency"), sector.agency)
            self._duplicates((*loc, "allowed_fields"), sector.allowed_fields, "field")
            self._duplicates((*loc, "verification", "fields"), sector.verification.fields, "field")
            if not sector.verification.enabled and sector.verification.fields:
                self.c.add(
                    (*loc, "verification", "fields"),
                    "fields are listed but verification is not enabled",
                )
            other = env_vars.setdefault(sector.database_url_env, name)
            if other != name:
                self.c.add(
                    (*loc, "database_url_env"),
                    f"{sector.database_url_env!r} is already the database of sector {other!r}",
                )

    def _endpoint_ok(self, loc: Loc, endpoint: Endpoint) -> bool:
        if endpoint.kind == "source" and endpoint.name not in self.known.sources:
            self.c.add(loc, f"unknown source {endpoint.name!r}")
            return False
        if endpoint.kind == "sector" and endpoint.name not in self.known.sectors:
            self.c.add(loc, f"unknown sector {endpoint.name!r}")
            return False
        return True

    def _connections(
        self,
        population: Population | None,
        sources: dict[str, Source],
        sectors: dict[str, Sector],
        connections: dict[str, Connection],
    ) -> None:
        pairs: dict[tuple[Endpoint, Endpoint], str] = {}
        for name, conn in connections.items():
            loc: Loc = ("connections", name)
            up, down = conn.upstream, conn.downstream
            self._agency_ref((*loc, "owners", "from"), conn.owners.from_)
            self._agency_ref((*loc, "owners", "to"), conn.owners.to)
            up_ok = self._endpoint_ok((*loc, "from"), up)
            down_ok = self._endpoint_ok((*loc, "to"), down)
            if not (up_ok and down_ok):
                continue
            if (up.kind, down.kind) not in (("source", "population"), ("population", "sector")):
                self.c.add(
                    loc,
                    f"a connection goes source → population or population → sector, "
                    f"not {conn.from_} → {conn.to}",
                )
                continue
            if (up, down) in pairs:
                self.c.add(
                    loc, f"duplicates connection {pairs[(up, down)]!r} ({conn.from_} → {conn.to})"
                )
                continue
            pairs[(up, down)] = name
            for side, endpoint, owner in (
                ("from", up, conn.owners.from_),
                ("to", down, conn.owners.to),
            ):
                expected = self._agency_of(endpoint, population, sources, sectors)
                if expected in self.known.agencies and owner != expected:
                    self.c.add(
                        (*loc, "owners", side),
                        f"{owner!r} is not the agency of {self._describe(endpoint)} ({expected!r})",
                    )
            if up.kind == "source" and up.name in sources:
                interval = sources[up.name].heartbeat_interval_seconds
                expected_every = conn.objectives.heartbeat_interval_seconds
                if expected_every < interval:
                    self.c.add(
                        (*loc, "objectives", "heartbeat_interval_seconds"),
                        f"expects a heartbeat every {expected_every:g} s "
                        f"but source {up.name!r} sends one every {interval:g} s",
                    )
        self._coverage(pairs, sources, sectors)

    def _coverage(
        self,
        pairs: Mapping[tuple[Endpoint, Endpoint], str],
        sources: dict[str, Source],
        sectors: dict[str, Sector],
    ) -> None:
        covered = set(pairs)
        population = Endpoint("population", None)
        for name in sources:
            if (Endpoint("source", name), population) not in covered:
                self.c.add(
                    ("connections",),
                    f"no connection carries source {name!r} to the population database",
                )
        for name in sectors:
            if (population, Endpoint("sector", name)) not in covered:
                self.c.add(("connections",), f"no connection delivers to sector {name!r}")

    @staticmethod
    def _agency_of(
        endpoint: Endpoint,
        population: Population | None,
        sources: dict[str, Source],
        sectors: dict[str, Sector],
    ) -> str | None:
        if endpoint.kind == "population":
            return population.agency if population else None
        items: Mapping[str, Source | Sector] = sources if endpoint.kind == "source" else sectors
        item = items.get(endpoint.name or "")
        return item.agency if item else None

    @staticmethod
    def _describe(endpoint: Endpoint) -> str:
        return (
            "the population database"
            if endpoint.kind == "population"
            else f"{endpoint.kind} {endpoint.name!r}"
        )
