"""The transactional outbox on PostgreSQL, MariaDB and SQLite, relayed to the real Kafka.

Every test gets its own outbox table (dropped at the end) and its own topics.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine, func, inspect, select, text

from cli.run_cmd import LEASE_HELD_EXIT, run
from databus.registry import registry_client
from databus.serde import Decoder
from databus.settings import Settings
from producers.outbox import (
    LeaseHeldError,
    OutboxRelay,
    backlog,
    create_outbox,
    ddl_statements,
    drop_outbox,
    enqueue,
    enqueue_many,
    outbox_table,
    schema_fingerprint,
    schema_for_fingerprint,
    schema_name_for,
)
from producers.outbox.lease import PostgresLease
from producers.outbox.rows import runs
from schemas.avro_files import schema_names
from schemas.catalog import EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from schemas.models.base import Contract
from schemas.models.civil_status import BirthRegisteredEvent, CivilStatusEvent
from schemas.models.downstream import Heartbeat
from schemas.models.envelope import Event
from tests.conftest import PROJECT_ROOT, LocalStack

CIVIL = EVENT_DOMAINS["civil-status"]
RESIDENCE = EVENT_DOMAINS["residence"]
DIALECTS = ["postgresql", "mariadb", "sqlite"]

# Example events whose subject PIN is free (a birth's PIN must agree with its payload).
FREE_SUBJECT = {
    "civil-status": ["DeathRegistered", "MarriageRegistered", "MarriageDissolved"],
    "residence": ["PermanentResidenceRegistered", "TemporaryResidenceRegistered", "Emigrated"],
}
_BIRTH_DATE, _BIRTH_SEX = date(2024, 5, 17), "FEMALE"  # as in EXAMPLES["BirthRegistered"]


# -- helpers (the crash test and the bench import them) -----------------------------------------


def random_pin(rng: random.Random) -> str:
    """A valid PIN with random place, birth date, sex and serial."""
    born = date(rng.randint(1930, 2005), rng.randint(1, 12), rng.randint(1, 28))
    return make_pin(
        rng.choice(["001", "031", "048", "079", "092"]),
        born,
        rng.choice(["MALE", "FEMALE"]),
        rng.randint(0, 999_999),
    )


def make_events(domain: EventDomain, pins: Sequence[str], count: int, seed: int) -> list[Event]:
    """`count` valid events of `domain` about the given PINs, each with a fresh event id."""
    rng = random.Random(seed)
    kinds = FREE_SUBJECT["civil-status" if domain is CIVIL else "residence"]
    events = []
    for _ in range(count):
        data = {
            **EXAMPLES[rng.choice(kinds)],
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "subject_pin": rng.choice(pins),
        }
        events.append(event_from_data(domain, data))
    return events


def subject_key(record: Contract) -> str:
    """The Kafka key of a citizen event: its subject PIN."""
    assert isinstance(record, Event) and record.subject_pin is not None
    return str(record.subject_pin)


def birth_event(serial: int) -> Event:
    """A valid BirthRegistered whose PIN agrees with the example's date of birth and sex."""
    pin = make_pin("001", _BIRTH_DATE, _BIRTH_SEX, serial)
    data = {**EXAMPLES["BirthRegistered"], "event_id": str(uuid.uuid4()), "subject_pin": pin}
    return event_from_data(CIVIL, data)


def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    """Create the topics (one replica: the local broker is alone)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    for future in futures.values():
        future.result(timeout=30)


def consume_all(bootstrap: str, topic: str, timeout: float = 120.0) -> list[Message]:
    """Every message the topic holds now (up to each partition's high watermark), in order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, 0.5):
                if msg.error():
                    raise AssertionError(str(msg.error()))
                messages.append(msg)
                offset = msg.offset()
                if (
                    msg.partition() in ends
                    and offset is not None
                    and offset + 1 >= ends[msg.partition()]
                ):
                    del ends[msg.partition()]
        assert not ends, f"partitions not read to their end: {sorted(ends)}"
        return messages
    finally:
        consumer.close()


def header(msg: Message, name: str) -> str:
    """One header of a message, as text."""
    headers: Any = msg.headers() or []
    for key, value in headers:
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    raise KeyError(name)


def relay_command() -> list[str]:
    """`python -m cli run outbox-relay`, or the `run` group alone until it is wired in."""
    from cli.main import cli

    if "run" in cli.commands:
        return [sys.executable, "-m", "cli", "run", "outbox-relay"]
    return [sys.executable, "-m", "cli.run_cmd", "outbox-relay"]


def engine_for(dialect: str, local_stack: LocalStack, tmp_path: Path) -> Engine:
    """An engine on the stack's database of that dialect (SQLite: a file in tmp_path)."""
    if dialect == "sqlite":
        return create_engine(f"sqlite:///{tmp_path / 'ministry.db'}")
    return create_engine(
        local_stack.database_url("postgres" if dialect == "postgresql" else dialect)
    )


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(params=DIALECTS)
def engine(
    request: pytest.FixtureRequest, local_stack: LocalStack, tmp_path: Path
) -> Iterator[Engine]:
    eng = engine_for(request.param, local_stack, tmp_path)
    yield eng
    eng.dispose()


@pytest.fixture
def outbox(engine: Engine) -> Iterator[str]:
    name = f"outbox_{uuid.uuid4().hex[:12]}"
    create_outbox(engine, name)
    yield name
    drop_outbox(engine, name)


@pytest.fixture
def topics(local_stack: LocalStack, topic_prefix: str) -> dict[str, str]:
    names = {
        "civil": f"{topic_prefix}civilstatus.events.v1",
        "residence": f"{topic_prefix}residence.events.v1",
        "heartbeat": f"{topic_prefix}bus.heartbeats.v1",
    }
    create_topics(local_stack.bootstrap, list(names.values()))
    return names


def _relay(engine: Engine, local_stack: LocalStack, table: str, **kw: Any) -> OutboxRelay:
    return OutboxRelay(engine, local_stack.bootstrap, local_stack.registry_url, table=table, **kw)


def _count(engine: Engine, table: str, *, published: bool | None = None) -> int:
    t = outbox_table(table)
    query = select(func.count()).select_from(t)
    if published is not None:
        query = query.where(
            t.c.published_at.is_not(None) if published else t.c.published_at.is_(None)
        )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


# -- no services needed -------------------------------------------------------------------------


def test_fingerprints_name_every_shipped_schema_and_models_map_to_their_topic_record() -> None:
    for name in schema_names():
        fp = schema_fingerprint(name)
        assert len(fp) == 16 and int(fp, 16) >= 0
        assert schema_for_fingerprint(fp) == name
    assert schema_name_for(BirthRegisteredEvent) == "CivilStatusEvent"
    assert schema_name_for(CivilStatusEvent) == "CivilStatusEvent"
    assert schema_name_for(Heartbeat) == "Heartbeat"
    with pytest.raises(KeyError):
        schema_for_fingerprint("0" * 16)


def test_marking_ranges_never_widen_over_unseen_ids() -> None:
    assert runs([1, 2, 3, 7, 8, 10]) == [(1, 3), (7, 8), (10, 10)]
    assert runs([5]) == [(5, 5)]


def test_ddl_statements_fill_in_the_table_and_refuse_unsafe_names() -> None:
    for dialect in ("postgresql", "mysql", "sqlite"):
        statements = ddl_statements(dialect, "ministry_outbox")
        assert statements and all("{table}" not in s and "--" not in s for s in statements)
        assert "CREATE TABLE IF NOT EXISTS ministry_outbox" in statements[0]
    with pytest.raises(ValueError):
        ddl_statements("postgresql", "x; DROP TABLE citizens")
    with pytest.raises(ValueError):
        ddl_statements("oracle")


# -- on each database ---------------------------------------------------------------------------


def _shape(engine: Engine, table: str) -> dict[str, Any]:
    """What reflection sees of a table, with the table name taken out."""
    inspector = inspect(engine)
    columns = [
        (
            c["name"],
            c["type"].compile(dialect=engine.dialect),
            c["nullable"],
            str(c.get("default")),
            c.get("identity"),
        )
        for c in inspector.get_columns(table)
    ]
    indexes = sorted(
        (
            str(i["name"]).replace(table, "T"),
            tuple(i["column_names"]),
            bool(i["unique"]),
            str(
                {
                    k: str(v)
                    for k, v in i.get("dialect_options", {}).items()
                    if v is not None and v != []
                }
            ),
        )
        for i in inspector.get_indexes(table)
    )
    return {
        "columns": columns,
        "pk": inspector.get_pk_constraint(table)["constrained_columns"],
        "indexes": indexes,
    }


def test_shipped_ddl_and_the_sqlalchemy_table_agree(engine: Engine, outbox: str) -> None:
    twin = f"{outbox}_sa"
    table = outbox_table(twin)
    table.metadata.create_all(engine)
    try:
        shipped, from_table = _shape(engine, outbox), _shape(engine, twin)
        assert shipped == from_table
        assert [c[0] for c in shipped["columns"]] == [c.name for c in table.columns]
        assert shipped["pk"] == ["id"]
        assert len(shipped["indexes"]) == 1
        create_outbox(engine, outbox)  # idempotent
    finally:
        drop_outbox(engine, twin)


def test_enqueue_belongs_to_the_callers_transaction(
    engine: Engine, outbox: str, topics: dict[str, str]
) -> None:
    events = make_events(CIVIL, [random_pin(random.Random(1))], 3, seed=1)
    with engine.connect() as conn, conn.begin() as tx:
        enqueue(conn, topics["civil"], events[0], key=subject_key(events[0]), table=outbox)
        enqueue_many(conn, topics["civil"], events[1:], subject_key, table=outbox)
        tx.rollback()
    assert _count(engine, outbox) == 0

    with engine.begin() as conn:
        first = enqueue(conn, topics["civil"], events[0], key=subject_key(events[0]), table=outbox)
        assert enqueue_many(conn, topics["civil"], events[1:], subject_key, table=outbox) == 2
    t = outbox_table(outbox)
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id)).all()
        pending = backlog(conn, outbox)
    assert rows[0].id == first and len(rows) == 3
    assert [r.event_id for r in rows] == [str(e.event_id) for e in events]
    assert {r.event_type for r in rows} <= set(FREE_SUBJECT["civil-status"])
    assert {r.schema_fingerprint for r in rows} == {schema_fingerprint("CivilStatusEvent")}
    assert all(
        r.published_at is None and r.created_at.utcoffset().total_seconds() == 0 for r in rows
    )
    assert not rows[0].body.startswith(b"\x00\x00")  # no Confluent header stored
    assert pending.rows == 3 and pending.oldest_age_seconds >= 0

    with pytest.raises(ValueError, match="Kafka key"), engine.begin() as conn:
        enqueue(conn, topics["civil"], events[0], key="", table=outbox)
    with pytest.raises(ValueError, match="topic"), engine.begin() as conn:
        enqueue(conn, "bad topic!", events[0], key="k", table=outbox)


def _heartbeats(count: int) -> list[Heartbeat]:
    return [
        Heartbeat.model_validate(
            {
                "source": "VN/GOV/BTP/hotich",
                "instance": "relay-test",
                "sequence": i,
                "sent_at": "2025-08-04T03:00:00Z",
                "interval_seconds": 30,
            }
        )
        for i in range(count)
    ]


def _fill(engine: Engine, outbox: str, topics: dict[str, str]) -> dict[str, list[Contract]]:
    """Enqueue events on two topics and heartbeats on a third, by single rows and batches."""
    rng = random.Random(6)
    pins = [random_pin(rng) for _ in range(12)]
    civil = make_events(CIVIL, pins, 60, seed=2) + [birth_event(serial) for serial in (11, 12)]
    residence = make_events(RESIDENCE, pins, 30, seed=3)
    expected: dict[str, list[Contract]] = {name: [] for name in topics.values()}
    with engine.begin() as conn:
        for i in range(0, 60, 10):  # single rows and executemany batches, interleaved
            for event in civil[i : i + 5]:
                enqueue(conn, topics["civil"], event, key=subject_key(event), table=outbox)
            enqueue_many(conn, topics["civil"], civil[i + 5 : i + 10], subject_key, table=outbox)
            chunk = residence[i // 2 : i // 2 + 5]
            enqueue_many(conn, topics["residence"], chunk, subject_key, table=outbox)
            expected[topics["civil"]] += civil[i : i + 10]
            expected[topics["residence"]] += chunk
        for event in civil[60:]:
            enqueue(conn, topics["civil"], event, key=subject_key(event), table=outbox)
        expected[topics["civil"]] += civil[60:]
        for beat in _heartbeats(3):
            enqueue(conn, topics["heartbeat"], beat, key=beat.source, table=outbox)
            expected[topics["heartbeat"]].append(beat)
    return expected


def _check_topic(
    local_stack: LocalStack,
    topic: str,
    target: EventDomain | type[Contract],
    records: list[Contract],
    ids: dict[str, int],
) -> None:
    """Exactly the records, decodable, keyed by PIN, in outbox id order per key."""
    messages = consume_all(local_stack.bootstrap, topic)
    assert len(messages) == len(records)  # nothing lost, nothing repeated (no crash here)
    messages.sort(key=lambda m: int(header(m, "outbox_id")))
    decoder = Decoder(registry_client(local_stack.registry_url), topic, target)
    assert [decoder.decode(m.value()) for m in messages] == records
    for msg, record in zip(messages, records, strict=True):
        assert int(header(msg, "outbox_id")) == ids[header(msg, "event_id")]
        if isinstance(record, Event):
            assert msg.key() == subject_key(record).encode()
            assert header(msg, "event_id") == str(record.event_id)
            assert header(msg, "event_type") == record.event_type
        else:
            assert header(msg, "event_type") == type(record).__name__
    per_key: dict[bytes | None, list[tuple[int, int]]] = defaultdict(list)
    for msg in consume_all(local_stack.bootstrap, topic):  # in Kafka's order this time
        per_key[msg.key()].append((msg.partition() or 0, int(header(msg, "outbox_id"))))
    for seen in per_key.values():
        assert len({partition for partition, _ in seen}) == 1
        assert [i for _, i in seen] == sorted(i for _, i in seen)


def test_relay_drain_publishes_every_row_in_id_order_per_key(
    engine: Engine, outbox: str, topics: dict[str, str], local_stack: LocalStack
) -> None:
    expected = _fill(engine, outbox, topics)
    total = sum(len(v) for v in expected.values())
    with engine.connect() as conn:
        assert backlog(conn, outbox).rows == total

    stats = _relay(engine, local_stack, outbox, batch_size=17).run(drain_once=True)

    assert stats.drained and stats.published == total and stats.delivery_failures == 0
    assert _count(engine, outbox, published=False) == 0
    assert _count(engine, outbox, published=True) == total
    labels = {"outbox": outbox}
    assert REGISTRY.get_sample_value("databus_outbox_backlog_rows", labels) == 0
    assert REGISTRY.get_sample_value("databus_outbox_oldest_age_seconds", labels) == 0
    assert REGISTRY.get_sample_value("databus_outbox_rows_published_total", labels) == total
    t = outbox_table(outbox)
    with engine.connect() as conn:
        ids = {r.event_id: r.id for r in conn.execute(select(t.c.id, t.c.event_id)).all()}
    targets: dict[str, EventDomain | type[Contract]] = {
        topics["civil"]: CIVIL,
        topics["residence"]: RESIDENCE,
        topics["heartbeat"]: Heartbeat,
    }
    for topic, records in expected.items():
        _check_topic(local_stack, topic, targets[topic], records, ids)


def test_only_one_relay_runs_per_outbox_and_a_standby_takes_over(
    engine: Engine, outbox: str, topics: dict[str, str], local_stack: LocalStack
) -> None:
    first = _relay(engine, local_stack, outbox, idle_sleep=0.05)
    stop_first = threading.Event()
    first_thread = threading.Thread(target=first.run, args=(stop_first,))
    first_thread.start()
    standby: OutboxRelay | None = None
    stop_standby = threading.Event()
    standby_thread: threading.Thread | None = None
    try:
        assert first.leased.wait(30)
        with pytest.raises(LeaseHeldError, match="only one relay"):
            _relay(engine, local_stack, outbox, lease_timeout=0.3).run(drain_once=True)

        settings = Settings(
            bootstrap_servers=local_stack.bootstrap, registry_url=local_stack.registry_url
        )
        result = CliRunner().invoke(
            run,
            [
                "outbox-relay",
                "--database-url",
                engine.url.render_as_string(hide_password=False),
                "--table",
                outbox,
                "--drain",
                "--lease-timeout",
                "0",
            ],
            obj=settings,
        )
        assert result.exit_code == LEASE_HELD_EXIT, result.output
        assert "holds the lease" in result.output

        standby = _relay(engine, local_stack, outbox, idle_sleep=0.05)
        standby_thread = threading.Thread(target=standby.run, args=(stop_standby,))
        standby_thread.start()
        time.sleep(1.5)
        assert not standby.leased.is_set()  # waiting, not running
        stop_first.set()
        first_thread.join(30)
        assert standby.leased.wait(30)  # took over

        event = make_events(CIVIL, [random_pin(random.Random(9))], 1, seed=9)[0]
        with engine.begin() as conn:
            enqueue(conn, topics["civil"], event, key=subject_key(event), table=outbox)
        deadline = time.monotonic() + 30
        while _count(engine, outbox, published=False) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _count(engine, outbox, published=True) == 1
    finally:
        stop_first.set()
        stop_standby.set()
        first_thread.join(30)
        if standby_thread is not None:
            standby_thread.join(30)


def test_a_failed_row_and_every_later_row_stay_unpublished_until_it_goes_through(
    local_stack: LocalStack, topics: dict[str, str], tmp_path: Path
) -> None:
    engine = engine_for("postgresql", local_stack, tmp_path)
    table = f"outbox_{uuid.uuid4().hex[:12]}"
    create_outbox(engine, table)
    missing = f"{topics['civil']}.missing"  # not created yet: deliveries to it fail
    events = make_events(CIVIL, [random_pin(random.Random(n)) for n in range(6)], 6, seed=4)
    with engine.begin() as conn:
        for i, event in enumerate(events):
            topic = missing if i == 3 else topics["civil"]
            enqueue(conn, topic, event, key=subject_key(event), table=table)
    relay = _relay(
        engine,
        local_stack,
        table,
        idle_sleep=0.05,
        producer_overrides={"topic.metadata.propagation.max.ms": 500},
    )
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()
    t = outbox_table(table)
    try:
        deadline = time.monotonic() + 30
        while _count(engine, table, published=True) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # a few more failed attempts on row 4 (alone, backing off)
        with engine.connect() as conn:
            published = [
                r.published_at is not None
                for r in conn.execute(select(t.c.published_at).order_by(t.c.id))
            ]
        assert published == [True, True, True, False, False, False]

        create_topics(local_stack.bootstrap, [missing])
        deadline = time.monotonic() + 60
        while _count(engine, table, published=False) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _count(engine, table, published=False) == 0
    finally:
        stop.set()
        thread.join(60)
        drop_outbox(engine, table)
        engine.dispose()
    civil = [header(m, "event_id") for m in consume_all(local_stack.bootstrap, topics["civil"])]
    assert set(civil) == {str(e.event_id) for i, e in enumerate(events) if i != 3}
    assert [header(m, "event_id") for m in consume_all(local_stack.bootstrap, missing)] == [
        str(events[3].event_id)
    ]


def test_cli_relay_serves_metrics_and_stops_gracefully_on_sigterm(
    local_stack: LocalStack, topics: dict[str, str], tmp_path: Path
) -> None:
    engine = engine_for("sqlite", local_stack, tmp_path)
    table = "ministry_outbox"
    create_outbox(engine, table)
    events = make_events(CIVIL, [random_pin(random.Random(5))], 20, seed=5)
    with engine.begin() as conn:
        enqueue_many(conn, topics["civil"], events, subject_key, table=table)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABUS_BOOTSTRAP_SERVERS": local_stack.bootstrap,
        "DATABUS_REGISTRY_URL": local_stack.registry_url,
        "MINISTRY_DB": f"sqlite:///{tmp_path / 'ministry.db'}",
    }
    command = [
        *relay_command(),
        "--database-url-env",
        "MINISTRY_DB",
        "--table",
        table,
        "--metrics-port",
        str(port),
    ]
    proc = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while _count(engine, table, published=False) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _count(engine, table, published=True) == len(events)
        metrics = ""
        while time.monotonic() < deadline and "rows_published_total" not in metrics:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as http:
                    http.sendall(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    metrics = b"".join(iter(lambda: http.recv(65536), b"")).decode()
            except OSError:
                time.sleep(0.2)
        assert f'databus_outbox_rows_published_total{{outbox="{table}"}} 20.0' in metrics
        assert f'databus_outbox_backlog_rows{{outbox="{table}"}} 0.0' in metrics
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
    assert proc.returncode == 0, err.decode()
    assert "published 20 rows" in out.decode() and "stopped" in out.decode()
    assert all(pin not in err.decode() for pin in {subject_key(e) for e in events})


def test_relay_reconnects_and_takes_the_lease_again_after_losing_its_session(
    local_stack: LocalStack, topics: dict[str, str], tmp_path: Path
) -> None:
    engine = engine_for("postgresql", local_stack, tmp_path)
    table = f"outbox_{uuid.uuid4().hex[:12]}"
    create_outbox(engine, table)
    key = PostgresLease(table).key
    holder = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
        "AND classid::bigint = :high AND objid::bigint = :low"
    )
    params = {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}
    relay = _relay(engine, local_stack, table, idle_sleep=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()
    events = make_events(CIVIL, [random_pin(random.Random(7))], 10, seed=7)
    try:
        assert relay.leased.wait(30)
        with engine.begin() as conn:
            pid: int = conn.execute(holder, params).scalar_one()
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with engine.begin() as conn:
            enqueue_many(conn, topics["civil"], events, subject_key, table=table)
        deadline = time.monotonic() + 60
        while _count(engine, table, published=False) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _count(engine, table, published=True) == len(events)
        with engine.begin() as conn:
            assert conn.execute(holder, params).scalar_one() != pid  # a new session holds it
    finally:
        stop.set()
        thread.join(60)
        drop_outbox(engine, table)
        engine.dispose()
