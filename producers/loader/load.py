"""Load one file of events for one source: validate every line, deliver the good ones.

Bad lines never stop the load: each is reported (line, field, rule) and written unchanged to
the rejects file; the good ones are delivered through the SDK. Success means every line was
valid and delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from producers.loader.reader import Line, csv_header, read_lines
from producers.sdk import Delivery, LightFuture, Publisher, SourceGate
from schemas.domain import ContractError, Issue
from schemas.models.envelope import Event


@dataclass(frozen=True)
class Rejected:
    """A line that was not sent (invalid) or not delivered (delivery failed)."""

    line: int
    issues: tuple[Issue, ...]


@dataclass
class LoadReport:
    """What a load did."""

    lines: int = 0
    valid: int = 0
    delivered: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    undelivered: list[Rejected] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        complete = self.dry_run or self.delivered == self.valid
        return not self.rejected and not self.undelivered and complete

    def as_dict(self) -> dict[str, object]:
        def rows(items: list[Rejected]) -> list[dict[str, object]]:
            return [
                {"line": r.line, "field": i.field, "rule": i.rule, "message": i.message}
                for r in items
                for i in r.issues
            ]

        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "lines": self.lines,
            "valid": self.valid,
            "delivered": self.delivered,
            "rejected": rows(self.rejected),
            "undelivered": rows(self.undelivered),
        }


Progress = Callable[[int], None]
T = TypeVar("T")


def load_file(
    path: Path,
    gate: SourceGate,
    publisher: Publisher | None,
    *,
    rejects: Path | None = None,
    progress: Progress | None = None,
    flush_timeout: float = 120.0,
) -> LoadReport:
    """Validate every line of `path` for the gate's source; publish valid ones unless dry run.

    `publisher=None` is a dry run. `progress` is called with the bytes read so far.
    """
    report = LoadReport(dry_run=publisher is None)
    futures: list[tuple[int, LightFuture[Delivery]]] = []
    out = rejects.open("w", encoding="utf-8") if rejects else None
    header = csv_header(path)
    wrote_header = False
    read = 0
    try:
        for line in read_lines(path):
            report.lines += 1
            read += len(line.raw.encode()) + 1
            checked = (
                _take(line, lambda data, record: gate.check(data, record=record))
                if publisher is None
                else _take(line, lambda data, record: publisher.publish(data, record=record))
            )
            if isinstance(checked, tuple):
                report.rejected.append(Rejected(line.number, checked))
                if out:
                    if header and not wrote_header:
                        out.write(header + "\n")
                        wrote_header = True
                    out.write(line.raw + "\n")
            else:
                report.valid += 1
                if not isinstance(checked, Event):
                    futures.append((line.number, checked))
            if progress and report.lines % 500 == 0:
                progress(read)
    finally:
        if out:
            out.close()
    if progress:
        progress(read)
    if publisher is not None:
        publisher.flush(flush_timeout)
        for number, future in futures:
            if future.done() and future.exception() is None:
                report.delivered += 1
            else:
                reason = "not delivered before the time-out"
                if future.done():
                    reason = str(future.exception())
                report.undelivered.append(Rejected(number, (Issue("(line)", "delivery", reason),)))
    return report


def _take(line: Line, take: Callable[[dict[str, Any], str], T]) -> T | tuple[Issue, ...]:
    """What `take` makes of a line's data (it validates it), or the line's issues: the gate's
    model in a dry run; else the SDK's delivery, plain data then going through the compiled
    checker (`schemas.fast_events`) and anything it does not take through pydantic, which
    names the field and the rule of an invalid line."""
    if line.problem is not None:
        return (line.problem,)
    assert line.data is not None
    try:
        return take(line.data, f"line {line.number}")
    except ContractError as exc:
        return exc.issues
