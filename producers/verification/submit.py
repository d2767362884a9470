"""Submit a file of a sector's records (CSV or JSON Lines) as verification requests.

The file loader's reader (`producers.loader.reader`) reads the lines; a line that cannot be read
or is no request (no record id, no PIN, an unknown column) is reported with its line number,
field and rule and written unchanged to the rejects file; every other line is sent. Success
means every line was sent and delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from producers.loader.load import Rejected
from producers.loader.reader import Line, csv_header, read_lines
from producers.verification.client import VerificationClient
from producers.verification.records import request_from_data
from schemas.domain import Issue
from schemas.models.downstream import VerificationRequest


@dataclass
class SubmitFileReport:
    """What a submission did."""

    lines: int = 0
    sent: int = 0
    delivered: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejected and self.failed == 0 and self.delivered == self.sent

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "lines": self.lines,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "rejected": [
                {"line": r.line, "field": i.field, "rule": i.rule, "message": i.message}
                for r in self.rejected
                for i in r.issues
            ],
        }


Progress = Callable[[int], None]


def count_records(path: Path) -> int:
    """Non-blank record lines of a file (a CSV header does not count): the progress total."""
    with path.open(encoding="utf-8-sig") as handle:
        count = sum(1 for text in handle if text.strip())
    return max(0, count - 1) if csv_header(path) is not None else count


def _request(line: Line, sector: str, campaign: str) -> VerificationRequest | tuple[Issue, ...]:
    if line.problem is not None:  # the loader's reader names it for events
        return (Issue(line.problem.field, "request.unreadable", line.problem.message),)
    assert line.data is not None
    return request_from_data(sector, line.data, campaign)


def submit_file(
    path: Path,
    client: VerificationClient,
    *,
    rejects: Path | None = None,
    progress: Progress | None = None,
    flush_timeout: float = 120.0,
) -> SubmitFileReport:
    """Send every request line of `path`; `progress` is called with the lines done so far."""
    import time

    started = time.monotonic()
    report = SubmitFileReport()
    header = csv_header(path)
    wrote_header = False
    out = rejects.open("w", encoding="utf-8") if rejects else None
    try:
        for line in read_lines(path):
            report.lines += 1
            made = _request(line, client.sector, client.campaign)
            if isinstance(made, tuple):
                report.rejected.append(Rejected(line.number, made))
                if out:
                    if header and not wrote_header:
                        out.write(header + "\n")
                        wrote_header = True
                    out.write(line.raw + "\n")
            else:
                client.submit(made)
                report.sent += 1
            if progress and report.lines % 1000 == 0:
                progress(report.lines)
    finally:
        if out:
            out.close()
    delivery = client.flush(flush_timeout)
    report.delivered = delivery.delivered
    report.failed = len(delivery.failed)
    report.seconds = time.monotonic() - started
    if progress:
        progress(report.lines)
    return report
