"""Load and check `deploy/topology.yaml`, reporting every problem with its YAML path.

Each section item is validated on its own, so one bad sector does not hide the mistakes of
another; the checks across sections (references, duplicates, coverage) then run on every item
that is valid by itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from databus.topology.errors import Loc, TopologyError, TopologyProblem, format_path
from databus.topology.model import (
    Agency,
    Connection,
    Endpoint,
    Population,
    Sector,
    Slug,
    Source,
    TopicDefaults,
    Topology,
)
from databus.topology.topics import RESERVED_TOPICS, SECTOR_TOPIC_PREFIX

_M = TypeVar("_M", bound=BaseModel)

_SECTIONS = (
    "version",
    "population",
    "agencies",
    "sources",
    "sectors",
    "connections",
    "topic_defaults",
)
_REQUIRED = ("population", "agencies", "sources", "topic_defaults")
_SLUG = TypeAdapter(Slug)
# Errors whose message already quotes the value, or whose value must not be echoed (a URL given
# where an environment variable name belongs may carry a password).
_NO_ECHO = frozenset(
    {
        "unknown_citizen_field",
        "unknown_event_type",
        "agency_id",
        "slug",
        "topic_name",
        "endpoint",
        "topic_role",
        "env_var",
    }
)


def load_topology(path: str | os.PathLike[str]) -> Topology:
    """Read and validate a topology file; raise `TopologyError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(
            [TopologyProblem("", f"cannot read topology file: {exc.strerror}")], source=str(path)
        ) from None
    return parse_topology(text, source=str(path))


def parse_topology(text: str, source: str = "<topology>") -> Topology:
    """Validate a topology given as YAML text; raise `TopologyError` listing every problem."""
    checker = _Checker(text)
    topology = checker.run()
    if checker.problems or topology is None:
        raise TopologyError(checker.problems, source=source)
    return topology


class _Checker:
    """Collects problems while validating one topology document."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[TopologyProblem] = []
        self.lines: dict[Loc, int] = {}

    # ----------------------------------------------------------------- reporting

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(TopologyProblem(format_path(loc), message, self._line(loc)))

    def _line(self, loc: Loc) -> int | None:
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def add_validation_error(self, prefix: Loc, error: ValidationError) -> None:
        for err in error.errors(include_url=False):
            loc = prefix + tuple(p for p in err["loc"] if p != "[key]")
            kind = err["type"]
            if kind == "missing":
                message = "required key is missing"
            elif kind == "extra_forbidden":
                message = f"unknown key {loc[-1]!r}"
            else:
                message = err["msg"]
                value = err.get("input")
                if kind not in _NO_ECHO and isinstance(value, str | int | float):
                    message += f" (got {value!r})"
            self.problems.append(TopologyProblem(format_path(loc), message, self._line(loc)))

    # ----------------------------------------------------------------- parsing

    def _parse_yaml(self) -> Any:
        loader = yaml.SafeLoader(self.text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            self._index(node, ())
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            self.problems.append(TopologyProblem("", _yaml_message(exc)))
        except yaml.YAMLError as exc:
            self.problems.append(TopologyProblem("", f"YAML syntax error: {exc}"))
        finally:
            loader.dispose()
        return None

    def _index(self, node: yaml.Node, loc: Loc) -> None:
        """Record the line of every path, and report keys given twice (YAML keeps the last)."""
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.problems.append(
                        TopologyProblem(
                            format_path((*loc, key)),
                            f"key {key!r} is given twice (first at line {seen[key]}); "
                            "YAML would silently keep only the last",
                            line,
                        )
                    )
                    continue
                seen[key] = line
                self.lines[(*loc, key)] = line
                self._index(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, (*loc, i))

    # ----------------------------------------------------------------- structure

    def run(self) -> Topology | None:
        root = self._parse_yaml()
        if self.problems:
            return None
        if not isinstance(root, dict):
            self.add(
                (), "the topology must be a YAML mapping with sections " + ", ".join(_SECTIONS)
            )
            return None
        for key in root:
            if key not in _SECTIONS:
                self.add((str(key),), f"unknown section {key!r} (known: {', '.join(_SECTIONS)})")
        for key in _REQUIRED:
            if key not in root:
                self.add((key,), "required section is missing")
        if root.get("version", 1) != 1:
            self.add(("version",), f"unsupported version {root['version']!r} (this code reads 1)")

        population = self._one(("population",), root.get("population"), Population)
        agencies = self._list(("agencies",), root.get("agencies"), Agency)
        sources = self._map(("sources",), root.get("sources"), Source)
        sectors = self._map(("sectors",), root.get("sectors"), Sector)
        connections = self._map(("connections",), root.get("connections"), Connection)
        self._map(("topic_defaults",), root.get("topic_defaults"), TopicDefaults)

        known = _KnownNames.of(root)
        _CrossChecks(self, known).run(population, agencies, sources, sectors, connections)
        if self.problems:
            return None
        try:
            return Topology.model_validate(root)
        except ValidationError as exc:  # pragma: no cover - the item checks catch these first
            self.add_validation_error((), exc)
            return None

    def _validate(self, loc: Loc, raw: Any, model: type[_M]) -> _M | None:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self.add_validation_error(loc, exc)
            return None

    def _one(self, loc: Loc, raw: Any, model: type[_M]) -> _M | None:
        if raw is None:
            return None
        return self._validate(loc, raw, model)

    def _list(self, loc: Loc, raw: Any, model: type[_M]) -> dict[int, _M]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            self.add(loc, "must be a list")
            return {}
        if not raw:
            self.add(loc, "must not be empty")
        valid = {}
        for i, item in enumerate(raw):
            parsed = self._validate((*loc, i), item, model)
            if parsed is not None:
                valid[i] = parsed
        return valid

    def _map(self, loc: Loc, raw: Any, model: type[_M]) -> dict[str, _M]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.add(loc, "must be a mapping of name to settings")
            return {}
        valid = {}
        for key, item in raw.items():
            name = str(key)
            try:
                _SLUG.validate_python(name)
            except ValidationError as exc:
                self.add((*loc, name), exc.errors(include_url=False)[0]["msg"])
                continue
            parsed = self._validate((*loc, name), item, model)
            if parsed is not None:
                valid[name] = parsed
        return valid


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    message = f"YAML syntax error{where}: {exc.problem or exc.context or 'cannot parse'}"
    if exc.problem and exc.context:
        started = f" started at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        message += f" ({exc.context}{started})"
    return message


class _KnownNames:
    """Names declared in the document, even by items that are otherwise invalid.

    Cross checks use these so that one mistake is not echoed as many "unknown X" problems.
    """

    def __init__(self, agencies: set[str], sources: set[str], sectors: set[str]) -> None:
        self.agencies = agencies
        self.sources = sources
        self.sectors = sectors

    @classmethod
    def of(cls, root: Mapping[str, Any]) -> _KnownNames:
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


class _CrossChecks:
    """Checks that need more than one item: references, duplicates, coverage."""

    def __init__(self, checker: _Checker, known: _KnownNames) -> None:
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
