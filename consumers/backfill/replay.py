"""Fill a new or emptied sector database from the population database, then hand over to the sink.

Where the versions come from. The issue says "replay the compacted `population.citizens.v1`
through the sector's projection", but that topic cannot give what a sector row needs: its
values are Citizen records, which carry no version, and the NPD outbox relay publishes only the
`event_id`, `event_type` and `outbox_id` headers (for a Citizen, `event_id` is a fresh UUID and
`event_type` is "Citizen"). Without the version the sink's guard cannot order the backfilled row
against the live projections. Replaying `population.changes.v1` instead would carry versions,
but that topic is not compacted (7 days of retention locally, 30 in production): a sector that
joins later would get a partial population, and the replay reads every change ever made instead
of one row per citizen. So the backfill reads the population database itself, the store the
compacted topic is a copy of: its `citizens` table (PIN, version, record), in PIN order through
a server-side cursor. Each row is projected like the router projects a change
(`databus.projection.snapshot`) and stored like the sink stores a projection
(`consumers.sink.store.to_row`, erasing deceased citizens where the sector's `on_deceased` is
`delete`), bulk-upserted with the sink's version guard (`consumers.sink.store.upsert`).

The version written is the citizen's current NPD version. A live sink stores the version of
the last change that touched the sector's fields, which can be lower; both rows hold the same
values (no allowed field changed in between) and both order correctly against later releases.

Hand-over with no gap and nothing applied twice:

1. Record the end offsets of `sector.<sector>.citizens.v1` (the sink must continue there).
2. Read the population database (one statement, so one snapshot, taken after step 1): every
   projection before those offsets came from a change the snapshot already contains; every
   change committed after the snapshot is released after step 1, at or beyond those offsets.
3. Write the rows in batches; each batch's transaction also advances the checkpoint
   (`checkpoint.py`). Killed, the backfill resumes after the last committed PIN with the
   offsets of step 1 (the rows already written came from a snapshot taken after them).
4. Commit the recorded offsets for the sink's consumer group (default `sink-<sector>`), then
   mark the run done. A projection released between steps 1 and 2 is both in the snapshot and
   after the offsets: the sink applies it again, and the version guard makes that a no-op.

Every row written is a release of the citizen's data to the sector, so each gets a DataUsage
record on `bus.data-usage.v1` (id from sector, PIN and version: a repeated backfill records the
same usage), delivered before the batch's rows commit.

Batches are projected in worker processes (`projector.py`; `workers=0`: in this process) while
this process reads the next rows and writes the previous batch; results are committed in
batch order, so the checkpoint always names a prefix of the PINs.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from confluent_kafka import KafkaError, Message, Producer
from sqlalchemy import create_engine

from consumers.backfill import checkpoint
from consumers.backfill.handover import (
    HandoverError,
    commit_offsets,
    end_offsets,
    group_members,
)
from consumers.backfill.projector import (
    ProjectedBatch,
    Projector,
    RawCitizen,
    init_worker,
    project_in_worker,
)
from consumers.backfill.source import count_citizens, stream_raw
from consumers.sink.store import create_sector_schema, upsert
from databus.kafka_config import producer_config
from databus.producing import produce_waiting
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.topics import Topics

T = TypeVar("T")
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


class BackfillError(RuntimeError):
    """The backfill cannot run or finish (the message says why; no personal data)."""


class Progress(Protocol):
    """Where the backfill reports progress (a progress bar, or nothing)."""

    def start(self, total: int) -> None: ...

    def advance(self, rows: int) -> None: ...


class _Silent:
    def start(self, total: int) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


@dataclass
class BackfillResult:
    """What a backfill run did (counts and offsets only)."""

    sector: str
    topic: str
    group: str
    offsets: dict[int, int]
    resumed: bool
    rows: int = 0
    """Rows written by this run."""
    total_rows: int = 0
    """Rows written by this run and the runs it resumed."""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Machine form, for `--json`."""
        return {
            "sector": self.sector,
            "topic": self.topic,
            "group": self.group,
            "offsets": {str(p): o for p, o in sorted(self.offsets.items())},
            "resumed": self.resumed,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "usage_records": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds else None,
        }


class Backfill:
    """Replays the population database into one sector's database, then hands over."""

    def __init__(
        self,
        settings: Settings,
        sector: str,
        database_url: str,
        npd_database_url: str,
        *,
        group: str | None = None,
        batch_size: int = 5000,
        workers: int = DEFAULT_WORKERS,
        restart: bool = False,
    ) -> None:
        topology = load_topology(settings.topology)
        self.name = sector
        self.sector = topology.sector(sector)
        topics = Topics.from_settings(settings, topology)
        self.topic = topics.sector_topic(sector)
        self.usage_topic = topics.data_usage
        self.group = group or f"sink-{sector}"
        self.batch_size = batch_size
        self.workers = workers
        self.restart = restart
        endpoints = settings.endpoints
        self.bootstrap = endpoints.bootstrap_servers
        self.registry_url = endpoints.registry_url
        self.engine = create_engine(database_url, pool_pre_ping=True)
        self.npd = create_engine(npd_database_url)
        self._producer: Producer | None = None
        self._delivery_errors: list[KafkaError] = []

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()
        self.npd.dispose()

    def run(self, progress: Progress | None = None) -> BackfillResult:
        """Load every citizen (or resume), then commit the recorded offsets for the sink."""
        began = time.monotonic()
        progress = progress or _Silent()
        create_sector_schema(self.engine)
        checkpoint.create_checkpoint_schema(self.engine)
        if group_members(self.bootstrap, self.group):
            raise HandoverError(
                f"consumer group {self.group} has live members: stop `databus run sink "
                f"{self.name}` before backfilling its database"
            )
        with self.engine.begin() as conn:
            state = checkpoint.load(conn, self.name)
        resumed = state is not None and state.unfinished and not self.restart
        if state is not None and resumed:
            if state.topic != self.topic:
                raise BackfillError(
                    f"the unfinished backfill in this database was for topic {state.topic}, "
                    f"not {self.topic}: pass --restart to start over"
                )
        else:
            offsets = end_offsets(self.bootstrap, self.topic)  # before the snapshot is taken
            with self.engine.begin() as conn:
                state = checkpoint.begin(conn, self.name, self.topic, offsets)
        result = BackfillResult(self.name, self.topic, self.group, state.offsets, resumed)
        if state.state == checkpoint.LOADING:
            result.rows = self._load(state.last_pin, progress)
            with self.engine.begin() as conn:
                checkpoint.set_state(conn, self.name, checkpoint.LOADED)
        commit_offsets(self.bootstrap, self.group, self.topic, state.offsets)
        with self.engine.begin() as conn:
            checkpoint.set_state(conn, self.name, checkpoint.DONE)
            done = checkpoint.load(conn, self.name)
        result.total_rows = done.rows_written if done else result.rows
        result.seconds = time.monotonic() - began
        return result

    def _load(self, after: str | None, progress: Progress) -> int:
        """Project and write every citizen after PIN `after`; return how many."""
        args = (self.name, self.sector, self.registry_url, self.usage_topic)
        written = 0
        with self.npd.connect() as npd:
            progress.start(count_citizens(npd, after))
            batches = chunks(stream_raw(npd, after=after, batch=self.batch_size), self.batch_size)
            if self.workers:
                # fork: the workers need nothing but their arguments, and `python -m` would
                # make a spawned worker run the command again
                context = multiprocessing.get_context("fork")
                with context.Pool(self.workers, init_worker, args) as pool:
                    ahead = 2 * self.workers
                    for batch, projected in _pipelined(pool, batches, ahead):
                        written += self._write(batch, projected)
                        progress.advance(len(batch))
            else:
                projector = Projector(*args)
                for batch in batches:
                    written += self._write(batch, projector(batch))
                    progress.advance(len(batch))
        return written

    def _write(self, batch: list[RawCitizen], projected: ProjectedBatch) -> int:
        """Release one batch: usage records delivered, then rows and checkpoint committed."""
        for (pin, _, _), usage in zip(batch, projected.usages, strict=True):
            self._produce(usage, pin)
        self._flush()
        with self.engine.begin() as conn:
            upsert(conn, projected.rows)
            checkpoint.advance(conn, self.name, batch[-1][0], len(projected.rows))
        return len(projected.rows)

    @property
    def producer(self) -> Producer:
        """Created after the worker processes are forked (they must not inherit its threads)."""
        if self._producer is None:
            self._producer = Producer(producer_config(self.bootstrap, f"backfill-{self.name}"))
        return self._producer

    def _produce(self, value: bytes, key: str) -> None:
        produce_waiting(self.producer, self.usage_topic, value, key, on_delivery=self._delivered)

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._delivery_errors.append(error)

    def _flush(self) -> None:
        while self.producer.flush(10) > 0:
            pass
        if self._delivery_errors:
            error = self._delivery_errors[0]
            raise BackfillError(f"usage records not delivered to {self.usage_topic}: {error}")


def _pipelined(
    pool: Any, batches: Iterable[list[RawCitizen]], ahead: int
) -> Iterator[tuple[list[RawCitizen], ProjectedBatch]]:
    """Each batch with its projection, in order, keeping up to `ahead` batches in the pool."""
    pending: deque[tuple[list[RawCitizen], Callable[[], ProjectedBatch]]] = deque()
    for batch in batches:
        pending.append((batch, pool.apply_async(project_in_worker, (batch,)).get))
        if len(pending) > ahead:
            done, result = pending.popleft()
            yield done, result()
    while pending:
        done, result = pending.popleft()
        yield done, result()


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
