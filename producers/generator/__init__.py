"""Synthetic population and life events: `databus generate --citizens N --out DIR`.

`generate(config, topology)` writes to `config.out_dir`:

- `citizens.jsonl`: the initial population, one `Citizen` per line, as the population database
  holds it before the life events (replaying the events recorded before `start` rebuilds it);
- `events.jsonl`: the whole history in the JSON form of docs/events.md, sorted by `recorded_at`:
  each citizen's birth, PIN, residence, marriage and identity card, then the life events from
  `start` to `end`;
- `events.<source>.jsonl`: the same events split by the topology source that publishes them;
- `manifest.json`: seed, arguments, counts per file, event type, source and change type, and the
  recorded-time range.

Everything comes from one `random.Random(seed)`: the same seed and arguments give byte-identical
files. Nothing reads the clock except the default `end` (yesterday in Viet Nam), and no timestamp
is ever later than the end of `end` (Vietnam time), so no event is in the future.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from databus.topology.model import Topology
from producers.generator.life import LifeSimulator
from producers.generator.places import Places
from producers.generator.population import PopulationBuilder, reorganization_payload
from producers.generator.records import DAY, EventFactory, citizen_record
from producers.generator.writer import (
    CITIZENS_FILE,
    MANIFEST_FILE,
    EventSpill,
    write_jsonl,
    write_manifest,
)
from schemas.catalog import EVENT_CLASSES
from schemas.domain import SCHEME_CUTOVER, VIETNAM

__all__ = [
    "DEFAULT_START",
    "EARLIEST_START",
    "GENERATOR_VERSION",
    "GenerationReport",
    "GeneratorConfig",
    "GeneratorError",
    "default_end",
    "generate",
]

GENERATOR_VERSION: Final = "1.0"
DEFAULT_START: Final = date(2024, 1, 1)
EARLIEST_START: Final = date(2016, 7, 1)
"""PINs were issued from 2016: the population needs them before the life events start."""


class GeneratorError(ValueError):
    """Arguments the generator cannot work with; the message says which and why."""


def default_end(now: datetime | None = None) -> date:
    """Yesterday in Viet Nam: the latest `end` whose every timestamp is already past."""
    current = now or datetime.now(UTC)
    return current.astimezone(VIETNAM).date() - timedelta(days=1)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate: population size, seed, and the life-event period and volume."""

    citizens: int
    out_dir: Path
    seed: int = 6
    events_per_citizen: float = 3.0
    start: date = DEFAULT_START
    end: date | None = None  # default: yesterday in Viet Nam

    def resolved_end(self) -> date:
        """`end`, or yesterday in Viet Nam when not given."""
        return self.end if self.end is not None else default_end()

    def check(self) -> None:
        """Raise GeneratorError for arguments that cannot give valid events."""
        end = self.resolved_end()
        if self.citizens < 1:
            raise GeneratorError("--citizens must be at least 1")
        if self.events_per_citizen < 0:
            raise GeneratorError("--events-per-citizen must not be negative")
        if self.start < EARLIEST_START:
            raise GeneratorError(
                f"--start must be on or after {EARLIEST_START} (PINs were first issued in 2016)"
            )
        if end < self.start:
            raise GeneratorError("--end must not be before --start")
        if end > default_end():
            raise GeneratorError(
                "--end must be before today (Vietnam time): events may not be in the future"
            )


@dataclass
class GenerationReport:
    """Counts of what was generated (never any personal value), and how long it took."""

    citizens: int
    events: int
    initial_events: int
    life_events: int
    by_type: dict[str, int]
    by_source: dict[str, int]
    by_change: dict[str, int]
    files: dict[str, int]
    start: date
    end: date
    first_recorded: str | None
    last_recorded: str | None
    seconds: float = 0.0
    agencies: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for `--json`)."""
        return {
            "citizens": self.citizens,
            "events": self.events,
            "initial_events": self.initial_events,
            "life_events": self.life_events,
            "event_types": self.by_type,
            "sources": self.by_source,
            "change_types": self.by_change,
            "files": self.files,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "first_recorded_at": self.first_recorded,
            "last_recorded_at": self.last_recorded,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
        }


def _routing(topology: Topology) -> tuple[dict[str, str], dict[str, str]]:
    """Event type -> source name, and event type -> publishing agency, from the topology."""
    source_of: dict[str, str] = {}
    agency_of: dict[str, str] = {}
    for event_type in EVENT_CLASSES:
        try:
            source = topology.source_of_event_type(event_type)
        except KeyError:
            raise GeneratorError(
                f"the topology has no source publishing {event_type}; the generator needs one"
            ) from None
        source_of[event_type] = source
        agency_of[event_type] = topology.sources[source].agency
    return source_of, agency_of


def generate(config: GeneratorConfig, topology: Topology) -> GenerationReport:
    """Generate the population and its events into `config.out_dir` (see the module doc)."""
    config.check()
    began = time.perf_counter()
    end = config.resolved_end()
    source_of, agency_of = _routing(topology)
    sources = list(topology.sources)
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    places = Places()
    spill = EventSpill(out, source_of, sources)
    try:
        emit = EventFactory(rng, agency_of, spill.add)
        builder = PopulationBuilder(rng, places, config.start, emit)
        people = builder.build(config.citizens)
        if config.start > SCHEME_CUTOVER:
            occurred = SCHEME_CUTOVER.toordinal() * DAY
            emit(
                "AdministrativeUnitsReorganized",
                None,
                occurred,
                occurred + 8 * 3600,
                reorganization_payload(),
            )
        citizens = write_jsonl(out / CITIZENS_FILE, (citizen_record(p) for p in people))
        initial = sum(spill.by_type.values())
        life = LifeSimulator(
            rng, places, emit, people, builder.pins, config.start, end, builder.household_seq
        )
        life_events = life.run(round(config.events_per_citizen * config.citizens))
        written = spill.finish(out)
    except BaseException:
        spill.discard()
        raise
    files = {CITIZENS_FILE: citizens, **written.files}
    report = GenerationReport(
        citizens=citizens,
        events=written.total,
        initial_events=initial,
        life_events=life_events,
        by_type=written.by_type,
        by_source=written.by_source,
        by_change=written.by_change,
        files=files,
        start=config.start,
        end=end,
        first_recorded=written.first_recorded,
        last_recorded=written.last_recorded,
        agencies={name: topology.sources[name].agency for name in sources},
    )
    write_manifest(out / MANIFEST_FILE, _manifest(config, report))
    report.files[MANIFEST_FILE] = 1
    report.seconds = time.perf_counter() - began
    return report


def _manifest(config: GeneratorConfig, report: GenerationReport) -> dict[str, Any]:
    """The manifest: deterministic (no wall-clock time, no paths), counts only."""
    return {
        "generator": "databus generate",
        "version": GENERATOR_VERSION,
        "seed": config.seed,
        "arguments": {
            "citizens": config.citizens,
            "events_per_citizen": config.events_per_citizen,
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
        },
        "files": dict(report.files),
        "citizens": report.citizens,
        "events": report.events,
        "initial_events": report.initial_events,
        "life_events": report.life_events,
        "event_types": report.by_type,
        "sources": {
            name: {"agency": report.agencies[name], "events": count}
            for name, count in report.by_source.items()
        },
        "change_types": report.by_change,
        "time_range": {
            "first_recorded_at": report.first_recorded,
            "last_recorded_at": report.last_recorded,
            "life_events_from": report.start.isoformat(),
            "life_events_to": report.end.isoformat(),
        },
    }
