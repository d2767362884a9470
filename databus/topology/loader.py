"""Load and check `deploy/topology.yaml`, reporting every problem with its YAML path.

Each section item is validated on its own, so one bad sector does not hide the mistakes of
another; the checks across sections (references, duplicates, coverage) then run on every item
that is valid by itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from databus.topology.cross_checks import CrossChecks, KnownNames
from databus.topology.errors import Loc, TopologyError, TopologyProblem, format_path
from databus.topology.model import (
    Agency,
    Connection,
    Population,
    Sector,
    Slug,
    Source,
    TopicDefaults,
    Topology,
)
from databus.topology.yaml_source import YamlSource

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

    # ----------------------------------------------------------------- structure

    def run(self) -> Topology | None:
        source = YamlSource(self.text)
        root = source.parse()
        self.lines = source.lines
        self.problems.extend(source.problems)
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

        known = KnownNames.of(root)
        CrossChecks(self, known).run(population, agencies, sources, sectors, connections)
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
