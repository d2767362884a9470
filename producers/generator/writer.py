"""Writes the generator's files: citizens, events (whole and per source) and the manifest.

Events arrive out of order (a family's history is emitted family by family, decades at a time), so
they are spilled to temporary bucket files by recorded time (a year per bucket before 2016, about a
month after) with a fixed-width sort key in front. `EventSpill.finish` sorts one bucket at a time
and writes `events.jsonl` and one `events.<source>.jsonl` per topology source, so memory holds one
bucket, never the whole history. Ties in recorded time keep emission order: the output is
byte-identical for the same seed and arguments.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, TextIO

from producers.generator.records import DAY, Clock, Record

EVENTS_FILE: Final = "events.jsonl"
CITIZENS_FILE: Final = "citizens.jsonl"
MANIFEST_FILE: Final = "manifest.json"

_FINE_FROM: Final = date(2016, 1, 1).toordinal() * DAY  # from here on, monthly buckets
_COARSE: Final = 365 * DAY
_FINE: Final = 30 * DAY
_FINE_BASE: Final = 10**7
_KEY: Final = 12 + 10 + 1  # recorded time, sequence number, source index

encode = json.JSONEncoder(ensure_ascii=False).encode
"""One record as compact-enough JSON text (non-ASCII kept as is: names stay readable)."""


def source_file(source: str) -> str:
    """The file name of one source's events, e.g. `events.civil-status.jsonl`."""
    return f"events.{source}.jsonl"


@dataclass
class EventsWritten:
    """What `EventSpill.finish` wrote."""

    files: dict[str, int]
    by_type: dict[str, int]
    by_source: dict[str, int]
    by_change: dict[str, int]
    first_recorded: str | None
    last_recorded: str | None
    total: int = field(default=0)


class EventSpill:
    """Collects events in recorded-time buckets on disk, then writes them sorted."""

    def __init__(self, out_dir: Path, source_of_type: dict[str, str], sources: list[str]) -> None:
        if len(sources) > 10:
            raise ValueError("the spill key has room for 10 sources")
        self._tmp = Path(tempfile.mkdtemp(prefix=".generate-", dir=out_dir))
        self._sources = sources
        index = {name: i for i, name in enumerate(sources)}
        self._source_digit = {t: str(index[s]) for t, s in source_of_type.items()}
        self._files: dict[int, TextIO] = {}
        self._seq = 0
        self.by_type: Counter[str] = Counter()
        self.by_change: Counter[str] = Counter()

    def add(self, recorded: int, event_type: str, event: Record) -> None:
        """Spill one event, recorded at `recorded` local seconds."""
        fine = recorded >= _FINE_FROM
        bucket = _FINE_BASE + recorded // _FINE if fine else recorded // _COARSE
        out = self._files.get(bucket)
        if out is None:
            out = (self._tmp / f"{bucket}.part").open("w", encoding="utf-8", newline="\n")
            self._files[bucket] = out
        self._seq += 1
        out.write(
            f"{recorded:012d}{self._seq:010d}{self._source_digit[event_type]}{encode(event)}\n"
        )
        self.by_type[event_type] += 1
        self.by_change[event["change_type"]] += 1

    def finish(self, out_dir: Path) -> EventsWritten:
        """Sort every bucket, write the event files, and remove the temporary files."""
        try:
            return self._write(out_dir)
        finally:
            self.discard()

    def discard(self) -> None:
        """Close and remove the temporary files (after `finish`, or on failure)."""
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _write(self, out_dir: Path) -> EventsWritten:
        for handle in self._files.values():
            handle.close()
        per_source = [0] * len(self._sources)
        first: int | None = None
        last: int | None = None
        outputs = [
            (out_dir / source_file(name)).open("w", encoding="utf-8", newline="\n")
            for name in self._sources
        ]
        total = 0
        try:
            with (out_dir / EVENTS_FILE).open("w", encoding="utf-8", newline="\n") as events:
                for bucket in sorted(self._files):
                    with (self._tmp / f"{bucket}.part").open(encoding="utf-8") as part:
                        lines = part.readlines()
                    lines.sort()
                    if first is None:
                        first = int(lines[0][:12])
                    last = int(lines[-1][:12])
                    split: list[list[str]] = [[] for _ in self._sources]
                    bodies = []
                    for line in lines:
                        body = line[_KEY:]
                        bodies.append(body)
                        split[int(line[_KEY - 1])].append(body)
                    events.writelines(bodies)
                    total += len(bodies)
                    for i, chunk in enumerate(split):
                        outputs[i].writelines(chunk)
                        per_source[i] += len(chunk)
        finally:
            for handle in outputs:
                handle.close()
        clock = Clock()
        files = {EVENTS_FILE: total}
        files.update({source_file(s): n for s, n in zip(self._sources, per_source, strict=True)})
        return EventsWritten(
            files=files,
            by_type=dict(sorted(self.by_type.items())),
            by_source=dict(zip(self._sources, per_source, strict=True)),
            by_change=dict(sorted(self.by_change.items())),
            first_recorded=clock.stamp(first) if first is not None else None,
            last_recorded=clock.stamp(last) if last is not None else None,
            total=total,
        )


def write_jsonl(path: Path, records: Iterable[Record]) -> int:
    """Write one JSON object per line; returns the number of lines."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        batch: list[str] = []
        for record in records:
            batch.append(encode(record) + "\n")
            if len(batch) >= 4096:
                out.writelines(batch)
                count += len(batch)
                batch.clear()
        out.writelines(batch)
        count += len(batch)
    return count


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest as indented JSON (stable key order: as built)."""
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
