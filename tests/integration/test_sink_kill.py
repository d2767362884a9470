"""SIGKILL the sector sink three times while it consumes 100,000 changes: the final sector table
equals the expected projection, and `databus reconcile` reports zero drift.

10,000 generated citizens each enter the sector (version 1, every allowed field released), then
90,000 changes follow, each touching one of the sector's fields (a household, an address, a
family name, a relation to the head of household; a few deaths, after which a citizen changes
no more). Each change is projected by the router's own function (`databus.projection.project`)
and encoded through the registry, keyed by PIN, so every citizen's versions are in order on
one partition; every 20,000 changes the previous 300 records are sent again, as a router that
crashed before acknowledging them would, and 500 older records are sent again at the end (stale
versions the sink's version guard must refuse). Everything is on the topic before the sink
starts.

The sink runs as its own process (`databus run sink`, PostgreSQL) with static group
membership (`--instance-id`), so a restarted sink takes its partitions back at once instead of
after the broker's 45 s session timeout. It is SIGKILLed at three seeded random moments while
it is consuming (after random shares of the records were committed, plus a random delay),
restarted each time, and left to finish. Then:

- the sector table holds, for every citizen, exactly the row of its last projection (the
  version, the deceased flag and the stored JSON that `to_row` makes of it);
- nothing was dead-lettered;
- `databus reconcile` against a population database holding the citizens' final records
  reports no drift.

Another seed: DATABUS_SINK_KILL_SEED (default 6106).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from sqlalchemy import create_engine, select

from consumers.monitor.group_watch import GroupWatch
from consumers.sink.store import Row, create_sector_schema, sector_citizens, to_row
from databus.kafka_config import producer_config
from databus.population.schema import citizens, create_population_schema
from databus.projection import project
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.loader import load_topology
from databus.topology.topics import Topics
from producers.generator import GeneratorConfig, generate
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange, SectorProjection
from tests.conftest import PROJECT_ROOT
from tests.population_harness import reconcile_report, stop_worker, wait_until, worker_env

SECTOR = "social-insurance"
CITIZENS = 10_000
CHANGES = 100_000
KILLS = 3
REPLAY_EVERY = 20_000
REPLAYED = 300
STALE = 500
DEATH_SHARE = 0.003
SEED = int(os.environ.get("DATABUS_SINK_KILL_SEED", "6106"))
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CHANGED_FIELDS = (
    "household_id",
    "permanent_residence",
    "current_residence",
    "family_name",
    "relation_to_head",
)


class Load:
    """The citizens, the changes released to the sector (encoded), and where each ends."""

    def __init__(self, settings: Settings, workdir: Path, rng: random.Random) -> None:
        topology = load_topology(settings.topology)
        self.sector = topology.sectors[SECTOR]
        self.topic = Topics.from_settings(settings, topology).sector_topic(SECTOR)
        self.encoder = Encoder(
            registry_client(settings.endpoints.registry_url), self.topic, "SectorProjection"
        )
        self.rng = rng
        config = GeneratorConfig(
            citizens=CITIZENS,
            out_dir=workdir,
            seed=SEED,
            events_per_citizen=0,
            start=date(2024, 1, 1),
            end=date(2026, 11, 19),
        )
        generate(config, topology)
        with (workdir / "citizens.jsonl").open(encoding="utf-8") as lines:
            people = [Citizen.model_validate(json.loads(line)) for line in lines]
        self.citizens: dict[str, Citizen] = {c.pin: c for c in people}
        self.versions: dict[str, int] = {}
        self.last: dict[str, SectorProjection] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.changes = 0
        self.addresses = [c.permanent_residence for c in people if c.permanent_residence]
        self.family_names = sorted({c.family_name for c in people})
        self.relations = sorted({c.relation_to_head for c in people if c.relation_to_head})

    def build(self) -> None:
        """Every citizen enters the sector, then the changes; replays along the way."""
        for pin in self.citizens:
            self._release(pin, list(Citizen.model_fields), "BirthRegistered")
        alive = list(self.citizens)
        while self.changes < CHANGES:
            at = self.rng.randrange(len(alive))
            pin = alive[at]
            if self.rng.random() < DEATH_SHARE:
                self.citizens[pin] = self.citizens[pin].model_copy(
                    update={"date_of_death": date(2026, 11, 1)}
                )
                self._release(pin, ["date_of_death"], "DeathRegistered")
                alive[at] = alive[-1]
                alive.pop()
                continue
            field = self.rng.choice(CHANGED_FIELDS)
            self.citizens[pin] = self.citizens[pin].model_copy(update={field: self._value(field)})
            self._release(pin, [field], "X")
            if self.changes % REPLAY_EVERY == 0:  # a router sending a batch again
                self.messages.extend(self.messages[-REPLAYED:])
        # late copies of older releases (a re-emission racing newer ones): the version guard
        # must keep the newer rows
        self.messages.extend(self.rng.sample(self.messages[: -REPLAYED * 4], STALE))

    def _value(self, field: str) -> Any:
        if field == "household_id":
            return f"HK{self.rng.randrange(10**10):010d}"
        if field == "family_name":
            return self.rng.choice(self.family_names)
        if field == "relation_to_head":
            return self.rng.choice(self.relations)
        return self.rng.choice(self.addresses)

    def _release(self, pin: str, fields: list[str], event_type: str) -> None:
        version = self.versions.get(pin, 0) + 1
        self.versions[pin] = version
        change = PopulationChange(
            pin=pin,
            version=version,
            event_id=uuid.UUID(int=self.rng.getrandbits(128)),
            event_type=event_type,
            source="VN/GOV/BTP/hotich",
            changed_fields=fields,
            occurred_at=NOW,
            applied_at=NOW,
            citizen=self.citizens[pin],
        )
        release = project(SECTOR, self.sector, change, NOW)
        assert release is not None, "every change touches a field of the sector"
        self.last[pin] = release.projection
        self.messages.append((pin, self.encoder.encode(release.projection)))
        self.changes += 1

    def expected(self) -> dict[str, Row]:
        """The row the sink must end with for each citizen: its last projection, stored."""
        return {
            pin: to_row(
                pin,
                p.version,
                p.deceased,
                p.citizen.model_dump(mode="json"),
                erase_deceased=False,
            )
            for pin, p in self.last.items()
        }

    def publish(self, bootstrap: str) -> None:
        producer = Producer(producer_config(bootstrap, "sink-kill-test"))
        for pin, value in self.messages:
            while True:
                try:
                    producer.produce(self.topic, value, pin)
                    break
                except BufferError:
                    producer.poll(0.05)
        assert producer.flush(60) == 0

    def fill_population(self, url: str) -> None:
        """The population database as it stands after every change."""
        engine = create_engine(url)
        create_population_schema(engine)
        rows = [
            {
                "pin": pin,
                "version": self.versions[pin],
                "record": citizen.model_dump(mode="json"),
                "field_times": {},
                "deceased": citizen.date_of_death is not None,
                "updated_at": NOW,
            }
            for pin, citizen in self.citizens.items()
        ]
        with engine.begin() as conn:
            conn.execute(citizens.insert(), rows)
        engine.dispose()


def test_a_sink_killed_three_times_ends_equal_to_the_projection(
    bus_ready: Settings, pg_databases: Callable[[], str], tmp_path: Path
) -> None:
    began = time.monotonic()
    rng = random.Random(SEED)
    load = Load(bus_ready, tmp_path / "generated", rng)
    load.build()
    total = len(load.messages)
    assert load.changes == CHANGES and total > CHANGES
    bootstrap = bus_ready.endpoints.bootstrap_servers
    load.publish(bootstrap)
    built = time.monotonic() - began

    sector_url, npd_url = pg_databases(), pg_databases()
    engine = create_engine(sector_url)
    create_sector_schema(engine)
    killed_at = _consume_with_kills(bus_ready, sector_url, load.topic, total, rng, tmp_path)
    consumed = time.monotonic() - began - built

    with engine.connect() as conn:
        table = {
            r.pin: Row(r.pin, int(r.version), bool(r.deceased), r.record)
            for r in conn.execute(select(sector_citizens))
        }
    engine.dispose()
    expected = load.expected()
    assert len(table) == len(expected) == CITIZENS
    differing = [pin for pin in expected if table.get(pin) != expected[pin]]
    assert not differing, f"{len(differing)} rows differ from the projection"
    assert read_all(bootstrap, Topics.from_settings(bus_ready).dead_letter) == []

    load.fill_population(npd_url)
    report = _reconcile(bus_ready, sector_url, npd_url)
    drift = report["drift"]
    assert report["ok"] and drift["in_sync"], drift
    assert drift["expected_rows"] == drift["sector_rows"] == CITIZENS
    kinds = ("missing", "extra", "changed", "version_ahead")
    assert [drift[kind] for kind in kinds] == [0, 0, 0, 0]
    deaths = sum(1 for row in table.values() if row.deceased)
    print(
        f"[sink-kill] {total:,} records ({CITIZENS:,} citizens, {deaths} deaths), killed at "
        f"{killed_at} committed; built in {built:.0f} s, consumed in {consumed:.0f} s"
    )


def _consume_with_kills(
    settings: Settings,
    url: str,
    topic: str,
    total: int,
    rng: random.Random,
    tmp_path: Path,
) -> list[int]:
    """Run the sink until all `total` records are committed, SIGKILLing and restarting it
    KILLS times on the way; the committed counts at the kills."""
    group = f"{settings.topic_prefix}sink"
    log = tmp_path / "sink.log"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "run",
                "sink",
                SECTOR,
                "--database-url",
                url,
                "--group",
                group,
                "--instance-id",
                "sink-kill-test",
            ],
            cwd=PROJECT_ROOT,
            env=worker_env(settings),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    committed = GroupWatch(settings.endpoints.bootstrap_servers, group, topic)
    killed_at: list[int] = []
    sink = start()
    try:
        for share in sorted(rng.uniform(0.08, 0.85) for _ in range(KILLS)):
            target = max(int(share * total), (killed_at[-1] if killed_at else 0) + total // 20)
            _wait_committed(committed, target, sink, log)
            # somewhere inside a batch, and before the end: a sink at 60,000 records/s drains
            # the last 15 % (15,300 records) in a quarter of a second
            time.sleep(rng.uniform(0.0, 0.1))
            assert sink.poll() is None, "the sink ended before it was killed"
            os.killpg(sink.pid, signal.SIGKILL)
            sink.wait(10)
            killed_at.append(committed.total())
            assert killed_at[-1] < total, "killed after it had consumed everything"
            sink = start()
        wait_until(_reached(committed, total), 120, "every record consumed", sink, log)
    finally:
        stop_worker(sink)
        committed.close()
    return killed_at


def _wait_committed(
    committed: GroupWatch, target: int, sink: subprocess.Popen[bytes], log: Path
) -> None:
    """Wait until `target` records are committed, looking every 50 ms: a fast sink commits
    thousands of records in wait_until's half second, and the kill must land mid-stream."""
    deadline = time.monotonic() + 120
    while committed.total() < target:
        if sink.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the sink exited ({sink.returncode}):\n{tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no progress to {target} committed records in 120 s")
        time.sleep(0.05)


def _reached(committed: GroupWatch, target: int) -> Callable[[], bool]:
    return lambda: committed.total() >= target


def _reconcile(settings: Settings, url: str, npd_url: str) -> dict[str, Any]:
    return reconcile_report(worker_env(settings), SECTOR, url, npd_url)
