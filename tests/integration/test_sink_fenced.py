"""A sink whose static group membership is taken over (fenced) joins the group again and goes
on: librdkafka's fatal "static consumer fenced" error, which the cluster's fault tests met
after a frozen broker and a network partition, once ended the sink.

The sink runs with `--instance-id`; a second consumer with the same group and instance id takes
the membership over (the broker fences the sink), then closes. The sink must replace its
consumer, resume from its committed offsets and write what follows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer
from sqlalchemy import create_engine, func, select

from consumers.sink.store import create_sector_schema, sector_citizens
from databus.kafka_config import consumer_config
from databus.settings import Settings
from databus.topic_reader import read_all
from databus.topology.topics import Topics
from tests.integration.test_sink_outage import SECTOR, _projections
from tests.population_harness import PROJECT_ROOT, wait_until, worker_env

INSTANCE = "fence-test"


def _take_membership_over(settings: Settings, group: str, topic: str) -> None:
    """Join `group` as the sink's static member until the broker hands us its partitions."""
    intruder = Consumer(
        consumer_config(
            settings.endpoints.bootstrap_servers, group, **{"group.instance.id": INSTANCE}
        )
    )
    try:
        intruder.subscribe([topic])
        deadline = time.monotonic() + 60
        while not intruder.assignment():
            assert time.monotonic() < deadline, "the intruder never got the sink's partitions"
            intruder.poll(0.2)
    finally:
        intruder.close()


def test_a_fenced_sink_joins_again_and_goes_on(
    bus_ready: Settings, pg_url: str, tmp_path: Path
) -> None:
    topics = Topics.from_settings(bus_ready)
    topic = topics.sector_topic(SECTOR)
    group = f"{bus_ready.topic_prefix}sink"
    producer = Producer({"bootstrap.servers": bus_ready.endpoints.bootstrap_servers})
    engine = create_engine(pg_url)
    create_sector_schema(engine)

    def at_version(version: int) -> int:
        with engine.connect() as conn:
            query = select(func.count()).select_from(sector_citizens)
            query = query.where(sector_citizens.c.version == version)
            return int(conn.execute(query).scalar() or 0)

    log = tmp_path / "sink.log"
    command = [sys.executable, "-m", "cli", "run", "sink", SECTOR, "--database-url", pg_url]
    sink = subprocess.Popen(
        [*command, "--group", group, "--instance-id", INSTANCE],
        cwd=PROJECT_ROOT,
        env=worker_env(bus_ready),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for pin, value in _projections(bus_ready, 300, 1):
            producer.produce(topic, value, pin)
        assert producer.flush(10) == 0
        wait_until(lambda: at_version(1) == 300, 60, "the first load", sink, log)

        _take_membership_over(bus_ready, group, topic)
        wait_until(
            lambda: "failed for good" in log.read_text(errors="replace"),
            60,
            "the sink fenced",
            sink,
            log,
        )
        for pin, value in _projections(bus_ready, 300, 2):
            producer.produce(topic, value, pin)
        assert producer.flush(10) == 0
        wait_until(lambda: at_version(2) == 300, 120, "the writes after the fencing", sink, log)
        assert sink.poll() is None, log.read_text(errors="replace")[-3000:]
    finally:
        if sink.poll() is None:
            os.killpg(sink.pid, signal.SIGTERM)
        sink.wait(30)
        engine.dispose()
    assert read_all(bus_ready.endpoints.bootstrap_servers, topics.dead_letter) == []
