"""The whole path on the cluster, under a fault, and the checks that follow it.

`FaultRun` publishes a generated population's life events through the SDK at a steady rate
(publish -> population sync -> NPD outbox relay -> router -> sink), each stage its own
process as in production, several of each (`workers`) in one consumer group: population-sync,
router and sink; the outbox relay is one. When a share of the events is published, the
scenario's fault is injected (and healed) while publishing goes on. Then the run waits until
everything has gone through and checks (`verify`):

- the population database equals a clean in-process run of the same events (nothing lost,
  nothing applied twice: `tests.population_compare.assert_same_population`), and
  `population.changes.v1` carries every change, versions increasing per citizen;
- nothing was dead-lettered;
- the sector table was written at most once per (citizen, version), versions increasing per
  citizen in write order (a trigger notes every row the sink inserts or updates);
- `databus reconcile` reports zero drift between the sector and the population database.

The time to recover is read from a timeline sampled every 0.25 s (events applied to the
population database, rows written to the sector's): how long the sector saw no write during
and after the fault, and how long after the fault was healed the sector was written again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, func, select, text

from consumers.monitor.group_watch import GroupWatch
from consumers.sink.store import create_sector_schema
from databus.contracts import bindings
from databus.kafka_admin import apply_topics
from databus.outbox import create_outbox
from databus.population.schema import applied_events, create_population_schema
from databus.schema_admin import RegistryAdmin, register_all
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics
from producers.sdk import Publisher
from schemas.avro_files import AVRO_DIR
from tests.cluster_harness import Cluster
from tests.population_compare import (
    assert_same_population,
    check_changes_topic,
    clean_run,
    snapshot,
)
from tests.population_harness import reconcile_report, worker_env

SECTOR = "social-insurance"
SAMPLE_SECONDS = 0.25
CONVERGE_SECONDS = 900.0

_WRITES = """
CREATE TABLE fault_writes (id BIGSERIAL PRIMARY KEY, pin VARCHAR(12) NOT NULL,
                           version BIGINT NOT NULL);
CREATE FUNCTION fault_note() RETURNS trigger AS $$
BEGIN
  INSERT INTO fault_writes (pin, version) VALUES (NEW.pin, NEW.version);
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER fault_note AFTER INSERT OR UPDATE ON sector_citizens
  FOR EACH ROW EXECUTE FUNCTION fault_note();
"""


def psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass
class Component:
    """One process of the path; `start` again after a kill."""

    name: str
    argv: list[str]
    env: dict[str, str]
    home: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.home.parent / f"{self.name}.log"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.home,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None and self.alive(), f"{self.name} is not running"
        os.killpg(self.process.pid, 9)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or not self.alive():
            return
        os.killpg(self.process.pid, 15)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Window:
    """When a fault began and when it was healed (monotonic seconds)."""

    began: float
    healed: float
    note: str = ""


@dataclass
class Timeline:
    """(time, events applied to the population, rows written to the sector), sampled."""

    npd_dsn: str
    sector_dsn: str
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                psycopg.connect(self.npd_dsn, autocommit=True) as npd,
                psycopg.connect(
                    self.sector_dsn, autocommit=True, application_name="fault-timeline"
                ) as sector,
            ):
                while not self.stop.is_set():
                    applied = npd.execute("SELECT count(*) FROM applied_events").fetchone()
                    written = sector.execute("SELECT max(id) FROM fault_writes").fetchone()
                    self.samples.append(
                        (
                            time.monotonic(),
                            int(applied[0] if applied else 0),
                            int((written[0] if written else 0) or 0),
                        )
                    )
                    time.sleep(SAMPLE_SECONDS)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def recovery(self, window: Window) -> dict[str, float | None]:
        """Seconds: the longest time without a sector write from the fault on, and from the
        heal to the first sector write after it (None: none came, all was through already)."""
        after = [(t, w) for t, _, w in self.samples if t >= window.began]
        stall, last_t, last_w = 0.0, window.began, after[0][1] if after else 0
        for t, w in after:
            if w > last_w:
                stall = max(stall, t - last_t)
                last_t, last_w = t, w
        at_heal = max((w for t, _, w in self.samples if t <= window.healed), default=0)
        resumed = next(
            (t - window.healed for t, _, w in self.samples if t > window.healed and w > at_heal),
            None,
        )
        return {
            "sector_stall_s": round(stall, 2),
            "sector_resumed_after_heal_s": None if resumed is None else round(resumed, 2),
        }


class FaultRun:
    """One run of the whole path on the cluster (see the module docstring)."""

    def __init__(
        self,
        cluster: Cluster,
        settings: Settings,
        npd_url: str,
        sector_url: str,
        workdir: Path,
        *,
        workers: int,
        peer_sink: bool = False,
    ) -> None:
        self.cluster = cluster
        self.settings = settings
        self.npd_url, self.sector_url = npd_url, sector_url
        self.workdir = workdir
        self.topology: Topology = load_topology(settings.topology)
        self.topics = Topics.from_settings(settings, self.topology)
        self.components = self._components(workers, peer_sink)

    def _components(self, workers: int, peer_sink: bool) -> dict[str, Component]:
        prefix = self.settings.topic_prefix
        env = {
            **worker_env(self.settings),
            "DATABUS_ENVIRONMENT": "local-cluster",
            "BROKER_SESSION_TIMEOUT": "10",
        }
        run = [sys.executable, "-m", "cli", "run"]
        commands: dict[str, list[str]] = {}
        for n in range(1, workers + 1):
            commands[f"population-sync-{n}"] = [
                *run,
                "population-sync",
                "--database-url",
                self.npd_url,
                "--group",
                f"{prefix}population-sync",
            ]
        commands["outbox-relay"] = [
            *run,
            "outbox-relay",
            "--database-url",
            self.npd_url,
            "--table",
            "npd_outbox",
        ]
        for n in range(1, workers + 1):
            commands[f"router-{n}"] = [*run, "router", "--group", f"{prefix}router"]
        for n in range(1, workers + 1):
            commands[f"sink-{n}"] = [
                *run,
                "sink",
                SECTOR,
                "--database-url",
                self.sector_url,
                "--group",
                f"{prefix}sink",
                "--instance-id",
                f"sink-{n}",
            ]
        made = {
            name: Component(name, argv, env, self.workdir / name) for name, argv in commands.items()
        }
        if peer_sink:
            namespace = self.cluster.namespace
            assert namespace is not None and self.cluster.peer_bootstrap
            peer = made[f"sink-{workers}"]
            peer.argv = namespace.command(peer.argv)
            peer.env = {**env, "DATABUS_BOOTSTRAP_SERVERS": self.cluster.peer_bootstrap}
        return made

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> None:
        """Topics (replicated as `local-cluster` says), schemas, both databases."""
        apply_topics(self.cluster.bootstrap, self.topics.specs())
        register_all(RegistryAdmin(self.cluster.registry_url), bindings(self.topics), AVRO_DIR)
        npd = create_engine(self.npd_url)
        create_population_schema(npd)
        create_outbox(npd, "npd_outbox")
        npd.dispose()
        sector = create_engine(self.sector_url)
        create_sector_schema(sector)
        sector.dispose()
        with psycopg.connect(psycopg_dsn(self.sector_url), autocommit=True) as conn:
            conn.execute(_WRITES)

    @contextmanager
    def running(self) -> Iterator[Timeline]:
        timeline = Timeline(psycopg_dsn(self.npd_url), psycopg_dsn(self.sector_url))
        thread = threading.Thread(target=timeline.run, daemon=True)
        for component in self.components.values():
            component.start()
        thread.start()
        try:
            yield timeline
        finally:
            timeline.stop.set()
            thread.join(10)
            for component in self.components.values():
                component.stop()

    def check_alive(self) -> None:
        for component in self.components.values():
            if not component.alive():
                raise AssertionError(f"{component.name} exited:\n{component.tail()}")

    # ------------------------------------------------------------------ load

    def publish(
        self, events: list[dict[str, Any]], rate: float, published: list[int]
    ) -> Callable[[], None]:
        """A function publishing `events` at `rate`/s through the SDK, one publisher per
        source, counting into `published[0]`; it raises if anything is left undelivered."""

        def publish() -> None:
            publishers = {
                name: Publisher.for_source(name, settings=self.settings, heartbeats=False)
                for name in self.topology.sources
            }
            started = time.monotonic()
            try:
                for i, event in enumerate(events):
                    wait = started + i / rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    source = self.topology.source_of_event_type(event["event_type"])
                    publishers[source].publish(event)
                    published[0] = i + 1
                for publisher in publishers.values():
                    report = publisher.flush(300)
                    assert report.complete, f"{len(report.pending)} pending, {len(report.failed)}"
            finally:
                for publisher in publishers.values():
                    publisher.close(30)

        return publish

    def converged(self, distinct: int) -> bool:
        """Every event applied, the outbox relayed, the router and the sinks caught up."""
        applied, unsent = self._npd_counts()
        if applied < distinct or unsent:
            return False
        prefix = self.settings.topic_prefix
        for group, topics in (
            (f"{prefix}router", [self.topics.population_changes]),
            (f"{prefix}sink", [self.topics.sector_topic(SECTOR)]),
        ):
            watch = GroupWatch(self.cluster.bootstrap, group, topics)
            try:
                positions = watch.positions()
            except RuntimeError:
                return False
            finally:
                watch.close()
            if not positions or any(p.lag for p in positions):
                return False
        return True

    def wait_converged(self, distinct: int, deadline: float | None = None) -> float:
        """When the path caught up (monotonic seconds). At `deadline` (default: in
        CONVERGE_SECONDS) it fails with `stall_report`: which hop stopped, and what the
        processes of the path were doing."""
        deadline = time.monotonic() + CONVERGE_SECONDS if deadline is None else deadline
        while not self.converged(distinct):
            self.check_alive()
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"the path did not catch up in time\n{self.stall_report(distinct)}"
                )
            time.sleep(1.0)
        return time.monotonic()

    def stall_report(self, distinct: int) -> str:
        """Where each hop stands (events applied, rows not relayed, every group's lag), the
        threads of every component (`py-spy dump`) and the end of its log. Stacks and logs
        carry no personal data (no local variables are dumped; the logs never hold any)."""
        applied, unsent = self._npd_counts()
        lines = [f"population sync: {applied} of {distinct} events applied, {unsent} not relayed"]
        prefix = self.settings.topic_prefix
        sources = [self.topics.source_topic(name) for name in self.topology.sources]
        for group, topics in (
            (f"{prefix}population-sync", sources),
            (f"{prefix}router", [self.topics.population_changes]),
            (f"{prefix}sink", [self.topics.sector_topic(SECTOR)]),
        ):
            watch = GroupWatch(self.cluster.bootstrap, group, topics)
            try:
                lagging = [f"{p.topic}[{p.partition}] {p.lag}" for p in watch.positions() if p.lag]
                lines.append(f"group {group}: lag {', '.join(lagging) or 'none'}")
            except RuntimeError as exc:
                lines.append(f"group {group}: {exc}")
            finally:
                watch.close()
        spy = Path(sys.executable).parent / "py-spy"
        for component in self.components.values():
            lines.append(f"--- {component.name} (alive: {component.alive()})")
            if component.alive() and component.process is not None and spy.exists():
                dump = subprocess.run(
                    [str(spy), "dump", "--pid", str(component.process.pid)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                lines.append(dump.stdout[-6000:] or dump.stderr[-1000:])
            lines.append(f"log: {component.tail()[-1500:]}")
        return "\n".join(lines)

    def _npd_counts(self) -> tuple[int, int]:
        """(events applied, outbox rows not relayed yet) in the population database."""
        npd = create_engine(self.npd_url)
        try:
            with npd.connect() as conn:
                applied = conn.execute(select(func.count()).select_from(applied_events)).scalar()
                unsent = conn.execute(
                    text("SELECT count(*) FROM npd_outbox WHERE published_at IS NULL")
                ).scalar()
        finally:
            npd.dispose()
        return int(applied or 0), int(unsent or 0)

    # ------------------------------------------------------------------ checks

    def verify(self, events: list[dict[str, Any]], reference_url: str) -> dict[str, Any]:
        """The checks of the module docstring; returns what they counted."""
        clean_changes = clean_run(self.topology, events, reference_url)
        ours = snapshot(create_engine(self.npd_url))
        clean = snapshot(create_engine(reference_url))
        moved = assert_same_population(ours, clean, same_interleaving=False)
        dead = read_all(self.cluster.bootstrap, self.topics.dead_letter)
        assert dead == [], f"{len(dead)} dead letters"
        records, duplicates = check_changes_topic(
            self.settings, self.topics, ours, clean, clean_changes, same_interleaving=False
        )
        writes = self._sector_writes()
        reconcile = self._reconcile()
        drift = reconcile["drift"]
        assert reconcile["ok"] and drift["in_sync"], drift
        kinds = ("missing", "extra", "changed", "version_ahead")
        assert [drift[kind] for kind in kinds] == [0, 0, 0, 0], drift
        return {
            "citizens": len(ours.citizens),
            "re_established": len(moved),
            "changes_on_topic": records,
            "duplicate_changes_on_topic": duplicates,
            "sector_rows": drift["sector_rows"],
            "sector_writes": writes,
        }

    def _sector_writes(self) -> int:
        per_pin: dict[str, list[int]] = defaultdict(list)
        with psycopg.connect(psycopg_dsn(self.sector_url)) as conn:
            for pin, version in conn.execute("SELECT pin, version FROM fault_writes ORDER BY id"):
                per_pin[pin].append(int(version))
        twice = sum(len(v) - len(set(v)) for v in per_pin.values())
        assert not twice, f"{twice} (citizen, version) written twice to the sector"
        unordered = sum(any(a >= b for a, b in pairwise(v)) for v in per_pin.values())
        assert not unordered, f"{unordered} citizens written with versions out of order"
        return sum(len(v) for v in per_pin.values())

    def _reconcile(self) -> dict[str, Any]:
        env = {**worker_env(self.settings), "DATABUS_ENVIRONMENT": "local-cluster"}
        return reconcile_report(env, SECTOR, self.sector_url, self.npd_url, timeout=600)
