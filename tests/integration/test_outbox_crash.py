"""SIGKILL the outbox relay at random moments: every row still reaches Kafka, in order per key.

50,000 events over 5,000 PINs in a PostgreSQL outbox; the relay runs as its own process
(`databus run outbox-relay --drain`) and is killed at seeded random moments (at least 3 times
with rows left to publish) and restarted until the table is drained. Then the whole topic is read
back: every event id is there, and per key the first copies come in outbox id order. Repeats are
allowed and counted. Another seed: DATABUS_CRASH_SEED (default 62025).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select

from databus.registry import registry_client
from databus.serde import Decoder
from producers.outbox import create_outbox, drop_outbox, enqueue_many, outbox_table
from tests.conftest import PROJECT_ROOT, LocalStack
from tests.integration.test_outbox import (
    CIVIL,
    consume_all,
    create_topics,
    header,
    make_events,
    random_pin,
    relay_command,
    subject_key,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = 50_000
KEYS = 5_000
SEED = int(os.environ.get("DATABUS_CRASH_SEED", "62025"))
MIN_KILLS = 3
MAX_RUNS = 30


@pytest.fixture
def postgres(local_stack: LocalStack) -> Iterator[Engine]:
    engine = create_engine(local_stack.database_url("postgres"))
    yield engine
    engine.dispose()


def _published(engine: Engine, table: str) -> int:
    t = outbox_table(table)
    with engine.connect() as conn:
        query = select(func.count()).select_from(t).where(t.c.published_at.is_not(None))
        return int(conn.execute(query).scalar_one())


def _kill_while_publishing(
    proc: subprocess.Popen[bytes], engine: Engine, table: str, rng: random.Random
) -> bool:
    """Wait until this run has marked rows, then SIGKILL it after a random delay.

    True when it was killed (False: it had already exited by itself).
    """
    start = _published(engine, table)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _published(engine, table) > start:
            break
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.15))
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return True


def test_relay_killed_at_random_moments_loses_nothing_and_keeps_order_per_key(
    local_stack: LocalStack, postgres: Engine, topic_prefix: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    table = f"crash_{uuid.uuid4().hex[:12]}"
    topic = f"{topic_prefix}civilstatus.events.v1"
    create_topics(local_stack.bootstrap, [topic], partitions=6)
    create_outbox(postgres, table)
    try:
        pins: set[str] = set()
        while len(pins) < KEYS:
            pins.add(random_pin(rng))
        events = make_events(CIVIL, sorted(pins), ROWS, seed=SEED)
        for start in range(0, ROWS, 10_000):
            with postgres.begin() as conn:
                enqueue_many(conn, topic, events[start : start + 10_000], subject_key, table=table)

        env = {
            **os.environ,
            "DATABUS_BOOTSTRAP_SERVERS": local_stack.bootstrap,
            "DATABUS_REGISTRY_URL": local_stack.registry_url,
            "DATABUS_OUTBOX_DATABASE_URL": local_stack.database_url("postgres"),
        }
        command = [*relay_command(), "--table", table, "--drain", "--batch-size", "2500"]
        kills = runs = 0
        while _published(postgres, table) < ROWS:
            runs += 1
            assert runs <= MAX_RUNS, "the relay does not make progress"
            with (tmp_path / f"relay-{runs}.log").open("wb") as log:
                proc = subprocess.Popen(
                    command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                )
                wants_kill = kills < MIN_KILLS or rng.random() < 0.3
                if wants_kill and _kill_while_publishing(proc, postgres, table, rng):
                    # Count only kills that left rows to publish (not one after the drain).
                    kills += _published(postgres, table) < ROWS
                    continue
                code = proc.wait(300)
            assert code == 0, (tmp_path / f"relay-{runs}.log").read_text()
        assert kills >= MIN_KILLS

        messages = consume_all(local_stack.bootstrap, topic)
        t = outbox_table(table)
        with postgres.connect() as conn:
            event_of: dict[int, str] = {
                row.id: row.event_id for row in conn.execute(select(t.c.id, t.c.event_id))
            }
        first_ids: dict[bytes | None, list[int]] = defaultdict(list)
        seen: set[int] = set()
        for msg in messages:  # per partition in offset order, so per key in Kafka's order
            outbox_id = int(header(msg, "outbox_id"))
            assert header(msg, "event_id") == event_of[outbox_id]
            if outbox_id not in seen:
                seen.add(outbox_id)
                first_ids[msg.key()].append(outbox_id)
        assert seen == set(event_of)  # every row is there at least once
        assert {header(m, "event_id") for m in messages} == {str(e.event_id) for e in events}
        for ids in first_ids.values():
            assert ids == sorted(ids), "first copies out of id order for one key"
        assert len(first_ids) == KEYS

        decoder = Decoder(registry_client(local_stack.registry_url), topic, CIVIL)
        by_id = {str(e.event_id): e for e in events}
        for msg in rng.sample(messages, 200):
            assert decoder.decode(msg.value()) == by_id[header(msg, "event_id")]

        duplicates = len(messages) - ROWS
        print(
            f"\noutbox crash test: {ROWS} rows, {KEYS} keys, {runs} relay runs, "
            f"{kills} SIGKILLs mid-drain, {len(messages)} messages consumed, "
            f"{duplicates} duplicates ({duplicates / ROWS:.2%}), no loss, "
            "per-key order of first copies kept"
        )
    finally:
        drop_outbox(postgres, table)
