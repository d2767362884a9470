"""Compare a sector database with what the population database says it should hold.

Expected: for every citizen of the population database (`citizens`: PIN, version, record) the
row the sink stores for a projection of that version (`consumers.backfill.source.expected_row`,
the sink's own `to_row`). Actual: the sector's `sector_citizens`. Both sides are streamed
(server-side cursors), so a million rows need no more memory than the differing buckets' rows
(a PIN, a version and a hash each) and 16 bytes per citizen for the versions.

1. Digests: each side's rows go into 256 buckets by a hash of the PIN, each bucket summarised
   by an order-independent digest (`digests.py`). Meanwhile every sector row's version is
   checked against its citizen's (`versions.py`). Equal buckets without such a row are in
   sync.
2. Rows, in the differing buckets only: the expected side's rows of those buckets are held as
   (PIN -> version, content hash); the sector side is streamed against them. A PIN only
   expected is *missing*, one only in the sector is *extra*, one whose content differs is
   *changed*; for changed rows both sides are fetched again by PIN to name the fields that
   differ.

Content, not version, decides whether a row is in sync. A live sink stores the version of the
last change that touched the sector's fields; the population database holds the citizen's
current version, which is higher whenever a later change touched only other fields. Both rows
hold the same values and both order correctly against later releases, so a lower sector
version is not drift. A sector version *above* the population database's (a row edited behind
the bus's back, or a database restored from an older backup) is drift: the version guard would
refuse the next releases. It is reported as `version_ahead` (and field `version`).

PINs that were re-established (`pin_links`) are not citizens any more: the sector keeps the
old row (the router sends no tombstone) and has the new one, whose `pin_history` names the old
PIN. They are counted as *superseded*, not as drift.

Nothing here prints or logs a personal value; PINs leave only through
`Drift.as_dict(show_pins=True)`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select

from consumers.backfill.source import (
    expected_row,
    fetch_citizens,
    stream_citizens,
    superseded_pins,
)
from consumers.reconcile.digests import BucketDigests, bucket_of, row_hash
from consumers.reconcile.versions import VersionIndex
from consumers.sink.store import Row, sector_citizens
from databus.topology.model import Sector

DEFAULT_BUCKETS = 256


@dataclass
class Drift:
    """The differences between a sector database and its expected content."""

    buckets: int
    expected_rows: int = 0
    sector_rows: int = 0
    superseded: int = 0
    differing_buckets: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    ahead: dict[str, int] = field(default_factory=dict)
    """PIN -> the sector's version, where it is above the population database's."""
    fields: Counter[str] = field(default_factory=Counter)
    per_bucket: dict[int, Counter[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """No drift at all."""
        return not (self.missing or self.extra or self.changed or self.ahead)

    @property
    def differing_pins(self) -> list[str]:
        """Every PIN whose sector row must be rewritten or removed."""
        return sorted({*self.missing, *self.extra, *self.changed, *self.ahead})

    def counts(self) -> dict[str, int]:
        """Rows per kind of drift."""
        return {
            "missing": len(self.missing),
            "extra": len(self.extra),
            "changed": len(self.changed),
            "version_ahead": len(self.ahead),
        }

    def as_dict(self, *, show_pins: bool = False) -> dict[str, Any]:
        """Machine form; PINs (personal data) only with `show_pins`."""
        out: dict[str, Any] = {
            "in_sync": self.clean,
            "buckets": self.buckets,
            "expected_rows": self.expected_rows,
            "sector_rows": self.sector_rows,
            "superseded_rows": self.superseded,
            **self.counts(),
            "fields": dict(sorted(self.fields.items())),
            "differing_buckets": self.differing_buckets,
            "per_bucket": {
                str(b): dict(sorted(c.items())) for b, c in sorted(self.per_bucket.items())
            },
            "seconds": round(self.seconds, 3),
        }
        if show_pins:
            out["pins"] = {
                "missing": sorted(self.missing),
                "extra": sorted(self.extra),
                "changed": sorted(self.changed),
                "version_ahead": sorted(self.ahead),
            }
        return out


@dataclass(frozen=True)
class SectorRow:
    """A row as the sector database holds it."""

    pin: str
    version: int
    deceased: bool
    record: str | None


def stream_sector(conn: Connection, *, batch: int = 5000) -> Iterator[SectorRow]:
    """Every row of the sector table (none before a sink or backfill created it), fetched
    `batch` rows at a time."""
    table = sector_citizens
    if not inspect(conn).has_table(table.name):
        return
    query = select(table.c.pin, table.c.version, table.c.deceased, table.c.record)
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
    for row in result:
        yield SectorRow(row.pin, int(row.version), bool(row.deceased), row.record)


def fetch_sector(conn: Connection, pins: list[str]) -> dict[str, SectorRow]:
    """The sector rows of these PINs (those it has)."""
    table = sector_citizens
    out: dict[str, SectorRow] = {}
    for start in range(0, len(pins), 1000):
        query = select(table.c.pin, table.c.version, table.c.deceased, table.c.record).where(
            table.c.pin.in_(pins[start : start + 1000])
        )
        for row in conn.execute(query):
            out[row.pin] = SectorRow(row.pin, int(row.version), bool(row.deceased), row.record)
    return out


def differing_fields(expected: Row, actual: SectorRow) -> set[str]:
    """Names of the fields whose values differ (`record` when only the text does)."""
    out: set[str] = set()
    if expected.deceased != actual.deceased:
        out.add("deceased")
    want = json.loads(expected.record) if expected.record is not None else {}
    try:
        have = json.loads(actual.record) if actual.record is not None else {}
    except ValueError:
        have = None
    if not isinstance(have, dict):
        return out | {"record"}
    out.update(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
    if not out and expected.record != actual.record:
        out.add("record")
    return out


class Reconciler:
    """Checks one sector database against the population database."""

    def __init__(
        self,
        sector_name: str,
        sector: Sector,
        engine: Engine,
        npd: Engine,
        *,
        buckets: int = DEFAULT_BUCKETS,
    ) -> None:
        self.name = sector_name
        self.sector = sector
        self.engine = engine
        self.npd = npd
        self.buckets = buckets
        self.erase_deceased = sector.on_deceased == "delete"

    def check(self) -> Drift:
        """Digests first, then rows in the buckets that differ."""
        began = time.monotonic()
        drift = Drift(self.buckets)
        with self.npd.connect() as conn:
            superseded = superseded_pins(conn)
        versions = VersionIndex()
        expected = self._expected_digests(versions)
        ahead: set[int] = set()
        actual = self._sector_digests(superseded, versions, ahead, drift)
        drift.expected_rows = expected.rows
        drift.sector_rows = actual.rows
        drift.differing_buckets = sorted(ahead.union(expected.differing(actual)))
        if drift.differing_buckets:
            self._compare_rows(set(drift.differing_buckets), superseded, drift)
            self._name_fields(drift)
        drift.seconds = time.monotonic() - began
        return drift

    def _expected_digests(self, versions: VersionIndex) -> BucketDigests:
        digests = BucketDigests(self.buckets)
        with self.npd.connect() as conn:
            for citizen in stream_citizens(conn):  # PIN order: the index needs no sort
                row = expected_row(self.sector, citizen, erase_deceased=self.erase_deceased)
                digests.add(
                    bucket_of(row.pin, self.buckets), row_hash(row.pin, row.deceased, row.record)
                )
                versions.add(row.pin, row.version)
        versions.seal()
        return digests

    def _sector_digests(
        self, superseded: set[str], versions: VersionIndex, ahead: set[int], drift: Drift
    ) -> BucketDigests:
        digests = BucketDigests(self.buckets)
        with self.engine.connect() as conn:
            for row in stream_sector(conn):
                if row.pin in superseded:
                    drift.superseded += 1
                    continue
                bucket = bucket_of(row.pin, self.buckets)
                digests.add(bucket, row_hash(row.pin, row.deceased, row.record))
                version = versions.version(row.pin)
                if version is not None and row.version > version:
                    ahead.add(bucket)
        return digests

    def _compare_rows(self, differing: set[int], superseded: set[str], drift: Drift) -> None:
        wanted: dict[str, tuple[int, int]] = {}
        with self.npd.connect() as conn:
            for citizen in stream_citizens(conn, ordered=False):
                if bucket_of(citizen.pin, self.buckets) in differing:
                    want = expected_row(self.sector, citizen, erase_deceased=self.erase_deceased)
                    wanted[want.pin] = (
                        want.version,
                        row_hash(want.pin, want.deceased, want.record),
                    )
        with self.engine.connect() as conn:
            for row in stream_sector(conn):
                bucket = bucket_of(row.pin, self.buckets)
                if bucket not in differing or row.pin in superseded:
                    continue
                counts = drift.per_bucket.setdefault(bucket, Counter())
                found = wanted.pop(row.pin, None)
                if found is None:
                    drift.extra.append(row.pin)
                    counts["extra"] += 1
                    continue
                version, digest = found
                if row.version > version:
                    drift.ahead[row.pin] = row.version
                    drift.fields["version"] += 1
                    counts["version_ahead"] += 1
                if row_hash(row.pin, row.deceased, row.record) != digest:
                    drift.changed.append(row.pin)
                    counts["changed"] += 1
        for pin in wanted:
            drift.missing.append(pin)
            drift.per_bucket.setdefault(bucket_of(pin, self.buckets), Counter())["missing"] += 1
        drift.per_bucket = {b: c for b, c in drift.per_bucket.items() if c}
        drift.missing.sort()
        drift.extra.sort()
        drift.changed.sort()

    def _name_fields(self, drift: Drift) -> None:
        """Which fields differ in the changed rows (both sides fetched again by PIN)."""
        for start in range(0, len(drift.changed), 1000):
            pins = drift.changed[start : start + 1000]
            with self.npd.connect() as conn:
                citizens = fetch_citizens(conn, pins)
            with self.engine.connect() as conn:
                rows = fetch_sector(conn, pins)
            for pin in pins:
                citizen, actual = citizens.get(pin), rows.get(pin)
                if citizen is None or actual is None:  # changed again since the scan
                    drift.fields["record"] += 1
                    continue
                want = expected_row(self.sector, citizen, erase_deceased=self.erase_deceased)
                for name in differing_fields(want, actual):
                    drift.fields[name] += 1
