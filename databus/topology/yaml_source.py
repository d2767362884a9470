"""Read a topology's YAML text: the document, the line of every path, and syntax problems.

Keys given twice are reported (YAML itself would silently keep the last one).
"""

from __future__ import annotations

from typing import Any

import yaml

from databus.topology.errors import Loc, TopologyProblem, format_path


class YamlSource:
    """One YAML document and what reading it found: `lines` by path, `problems`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[TopologyProblem] = []
        self.lines: dict[Loc, int] = {}

    def parse(self) -> Any:
        """The document as Python values, or None (with `problems`) when it cannot be read."""
        return self._parse_yaml()

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


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    message = f"YAML syntax error{where}: {exc.problem or exc.context or 'cannot parse'}"
    if exc.problem and exc.context:
        started = f" started at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        message += f" ({exc.context}{started})"
    return message
