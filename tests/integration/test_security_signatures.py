"""Forged events never reach the NPD, on the secure broker; no secret ever shows.

A ministry's principal may write its own topic, but only its signature makes an event count:
an event signed with another agency's key, unsigned, or with a signature that does not match
is dead-lettered as `bad_signature` and the citizen stays as he was.
"""

from __future__ import annotations

import base64
import copy
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer
from sqlalchemy import create_engine, select

from databus.dead_letter import H_REASON
from databus.population.schema import citizens
from databus.security.client import secured
from databus.security.principals import POPULATION_SYNC, agency_principal
from databus.security.signing import H_SIGNATURE
from databus.security.signing import header as signature_header
from databus.stack.process import free_port
from databus.stack.secure_kafka import admin_env_file
from databus.topic_reader import header, read_all
from producers.sdk import Publisher
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from tests.population_harness import stop_worker, wait_until
from tests.secure_harness import PROJECT_ROOT, SecureBus

HOTICH = agency_principal("VN/GOV/BTP/hotich")


def _birth(i: int) -> dict[str, object]:
    event = copy.deepcopy(EXAMPLES["BirthRegistered"])
    dob = date(2001, 1 + i % 12, 1 + i % 28)
    event["event_id"] = str(uuid.uuid4())
    event["subject_pin"] = make_pin("001", dob, "FEMALE", 200_000 + i)
    event["payload"].update(date_of_birth=dob.isoformat(), father=None, mother=None)
    return event


def _death_of(pin: str) -> dict[str, object]:
    event = copy.deepcopy(EXAMPLES["DeathRegistered"])
    event["event_id"] = str(uuid.uuid4())
    event["subject_pin"] = pin
    return event


def test_forged_events_are_dead_lettered_and_the_citizen_is_unchanged(
    secure_bus: SecureBus, pg_url: str, tmp_path: Path
) -> None:
    settings = secure_bus.settings()
    topic = f"{secure_bus.prefix}civilstatus.events.v1"
    real = _birth(1)
    pin = str(real["subject_pin"])
    with secure_bus.acting_as(HOTICH):
        # The genuine ministry, with its second (rotated-in) key.
        with Publisher.for_source(
            "civil-status",
            settings=settings,
            heartbeats=False,
            signer=secure_bus.signer("btp-2026"),
        ) as genuine:
            genuine.publish(real).result(30)
        # Someone holding the ministry's broker password but another agency's key.
        with Publisher.for_source(
            "civil-status",
            settings=settings,
            heartbeats=False,
            signer=secure_bus.signer("bca-cutru-2025"),
        ) as foreign:
            foreign.publish(_death_of(pin)).result(30)
        with Publisher.for_source("civil-status", settings=settings, heartbeats=False) as unsigned:
            unsigned.publish(_death_of(pin)).result(30)
    # A genuine signature moved onto another record.
    genuine_record = next(
        m for m in _read(secure_bus, topic, 30) if header(m, "event_id") == str(real["event_id"])
    )
    stolen = signature_header(genuine_record.headers(), H_SIGNATURE)
    assert stolen is not None
    with secure_bus.acting_as(HOTICH):
        with Publisher.for_source(
            "civil-status",
            settings=settings,
            heartbeats=False,
            signer=secure_bus.signer("btp-2025"),
        ) as publisher:
            forged = _death_of(pin)
            value = publisher._encoder.encode(publisher.validate(forged))
        producer = Producer(secured({"bootstrap.servers": secure_bus.bootstrap}))
        producer.produce(
            topic,
            value,
            pin,
            headers=[
                ("event_id", str(forged["event_id"])),
                (H_SIGNATURE, stolen),
                ("databus-signing-key", b"btp-2026"),
            ],
        )
        assert producer.flush(30) == 0

    log = tmp_path / "population.log"
    metrics_port = free_port()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "population-sync",
            "--database-url",
            pg_url,
            "--group",
            f"{secure_bus.prefix}population-sync",
            "--metrics-port",
            str(metrics_port),
            "--log-level",
            "info",
        ],
        cwd=PROJECT_ROOT,
        env={**_base_env(), **secure_bus.env(POPULATION_SYNC)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = create_engine(pg_url)
    dead_letter_topic = f"{secure_bus.prefix}bus.dead-letter.v1"
    try:

        def settled() -> bool:
            try:
                return len(_read(secure_bus, dead_letter_topic, 10)) >= 3
            except Exception:
                return False

        wait_until(settled, 120, "three dead letters", worker, log)

        def applied() -> bool:
            try:
                with engine.connect() as conn:
                    return conn.execute(select(citizens.c.pin)).first() is not None
            except Exception:
                return False

        wait_until(applied, 60, "the genuine birth applied", worker, log)
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    finally:
        stop_worker(worker)
        engine.dispose()

    reasons = [header(m, H_REASON) for m in _read(secure_bus, dead_letter_topic, 30)]
    assert reasons == ["bad_signature"] * 3
    with create_engine(pg_url).connect() as conn:
        rows = conn.execute(select(citizens)).mappings().all()
    assert [row["pin"] for row in rows] == [pin]
    assert rows[0]["version"] == 1  # the birth only: no forged death reached the citizen
    assert not rows[0]["deceased"]
    assert not rows[0]["record"].get("date_of_death")

    _assert_no_secret(secure_bus, log.read_text(errors="replace") + metrics)


def _read(bus: SecureBus, topic: str, timeout: float) -> list[Any]:
    """Every record of `topic`, read as the admin."""
    with bus.acting_as(None):
        return read_all(bus.bootstrap, topic, timeout=timeout)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("DATABUS_KAFKA_")}


def _assert_no_secret(bus: SecureBus, text: str) -> None:
    """No password, no private key (PEM or raw) in `text`."""
    secrets = list(bus.passwords.values())
    admin = admin_env_file(bus.stack_dir).read_text()
    secrets += [line.split("=", 1)[1] for line in admin.splitlines() if "PASSWORD=" in line]
    for path in bus.key_files.values():
        pem = path.read_text()
        body = "".join(line for line in pem.splitlines() if "-----" not in line)
        secrets += [body, body[:24], base64.b64decode(body)[-32:].hex()]
    for secret in secrets:
        assert secret not in text
