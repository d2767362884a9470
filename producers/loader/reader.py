"""Read event files line by line: JSON Lines, or CSV whose columns are dotted field paths.

CSV form: the header names each column by its path in the JSON form (`event_id`,
`payload.name.family_name`, ...); an empty cell is null; a cell starting with `[` or `{` is JSON
(lists such as `payload.nationalities`). Every line keeps its number and its raw text, so that
rejected lines can be written out unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.domain import Issue


@dataclass(frozen=True)
class Line:
    """One input line: its number (1-based, as an editor shows it), raw text and parsed form."""

    number: int
    raw: str
    data: dict[str, Any] | None
    problem: Issue | None = None


def file_format(path: Path) -> str:
    """`csv` for .csv files, `jsonl` otherwise."""
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def read_lines(path: Path) -> Iterator[Line]:
    """Parsed lines of a JSONL or CSV file (blank lines are skipped)."""
    if file_format(path) == "csv":
        yield from _read_csv(path)
    else:
        yield from _read_jsonl(path)


def csv_header(path: Path) -> str | None:
    """The header line of a CSV file (rejects files repeat it), else None."""
    if file_format(path) != "csv":
        return None
    with path.open(encoding="utf-8-sig") as handle:
        return handle.readline().rstrip("\r\n")


def _read_jsonl(path: Path) -> Iterator[Line]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Line(
                    number, text, None, Issue("(line)", "event.unreadable", f"not JSON: {exc.msg}")
                )
                continue
            if not isinstance(data, dict):
                yield Line(
                    number, text, None, Issue("(line)", "event.unreadable", "not a JSON object")
                )
                continue
            yield Line(number, text, data)


def _read_csv(path: Path) -> Iterator[Line]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header_text = handle.readline()
        columns = next(csv.reader([header_text]), [])
        for offset, raw in enumerate(handle, start=2):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            cells = next(csv.reader(io.StringIO(text)), [])
            if len(cells) != len(columns):
                yield Line(
                    offset,
                    text,
                    None,
                    Issue(
                        "(line)",
                        "event.unreadable",
                        f"{len(cells)} cells for {len(columns)} columns",
                    ),
                )
                continue
            try:
                yield Line(offset, text, _nest(columns, cells))
            except json.JSONDecodeError as exc:
                yield Line(
                    offset,
                    text,
                    None,
                    Issue("(line)", "event.unreadable", f"a JSON cell is invalid: {exc.msg}"),
                )


def _nest(columns: list[str], cells: list[str]) -> dict[str, Any]:
    """`{"payload.name.given_name": "Ánh"}` → `{"payload": {"name": {"given_name": "Ánh"}}}`."""
    out: dict[str, Any] = {}
    for column, cell in zip(columns, cells, strict=True):
        value: Any = None if cell == "" else json.loads(cell) if cell[:1] in "[{" else cell
        node = out
        *parents, leaf = column.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
