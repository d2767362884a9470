"""Errors of a bad topology: one problem per mistake, each naming its YAML path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Loc = tuple[str | int, ...]
"""A location in the topology document: keys and list indexes from the root."""


def format_path(loc: Iterable[str | int]) -> str:
    """Render a location as a YAML path, e.g. `sectors.tax.allowed_fields[2]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True, slots=True)
class TopologyProblem:
    """One mistake in the topology: where it is and what is wrong."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        line = f" (line {self.line})" if self.line is not None else ""
        return f"{where}{self.message}{line}"

    def as_dict(self) -> dict[str, str | int | None]:
        """Machine form, for `--json` output."""
        return {"path": self.path, "message": self.message, "line": self.line}


class TopologyError(ValueError):
    """The topology file cannot be used; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[TopologyProblem], source: str | None = None) -> None:
        self.problems: list[TopologyProblem] = list(problems)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.problems)
        head = f"{self.source}: " if self.source else ""
        head += f"invalid topology, {count} problem{'s' if count != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
