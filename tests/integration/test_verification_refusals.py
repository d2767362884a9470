"""Refusals, dead letters and repeats through a running verifier; it goes on after each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from confluent_kafka import Producer

from databus.dead_letter import H_CONSUMER, H_MESSAGE, H_REASON, H_TOPIC
from databus.registry import registry_client
from databus.serde import Encoder
from databus.settings import Settings
from databus.topic_reader import header, read_all
from databus.topology.topics import Topics
from producers.verification import VerificationClient, VerificationRefusedError
from schemas.models.downstream import VerificationClaims, VerificationRequest
from tests.population_harness import stop_worker, wait_until
from tests.verification_harness import (
    SECTOR,
    build_campaign,
    generated_citizens,
    load_population,
    read_results,
    run_cli,
    start_verifier,
)


@dataclass
class Running:
    settings: Settings
    database_url: str
    citizen: dict[str, Any]
    process: Any
    log: Path

    def wait_for(self, sector: str, count: int) -> list[tuple[bytes, Any]]:
        wait_until(
            lambda: len(read_results(self.settings, sector)) >= count,
            90,
            f"{count} answers for {sector}",
            self.process,
            self.log,
        )
        return read_results(self.settings, sector)


@pytest.fixture
def running(bus_ready: Settings, pg_url: str, tmp_path: Path) -> Iterator[Running]:
    campaign = build_campaign(generated_citizens(20, tmp_path), 20)
    load_population(pg_url, campaign)
    citizen = next(e for e in campaign.expected if e.alteration == "exact").record
    log = tmp_path / "verifier.log"
    process = start_verifier(bus_ready, pg_url, log)
    try:
        yield Running(bus_ready, pg_url, citizen, process, log)
        assert process.poll() is None, "the verifier stopped"
    finally:
        stop_worker(process)


def test_a_sector_without_rights_is_refused_before_anything_is_sent(
    bus_ready: Settings, tmp_path: Path
) -> None:
    with pytest.raises(VerificationRefusedError, match=r"health.*no verification rights"):
        VerificationClient("health", settings=bus_ready)
    requests = tmp_path / "patients.jsonl"
    requests.write_text('{"record_id": "p-1", "pin": "001190000001"}\n')
    refused = run_cli(bus_ready, "verify", "submit", "--sector", "health", str(requests))
    assert refused.returncode == 2
    assert "no verification rights" in refused.stderr + refused.stdout


def test_refused_field_and_refused_sector_are_named(running: Running) -> None:
    citizen = running.citizen
    with VerificationClient("tax", settings=running.settings, campaign="c1") as tax:
        tax_id = tax.submit({"record_id": "t-1", "pin": citizen["pin"], "sex": citizen["sex"]})
    # a request naming a sector without rights, slipped onto another sector's topic
    topic = Topics.from_settings(running.settings).verification_requests_topic(SECTOR)
    endpoints = running.settings.endpoints
    encoder = Encoder(registry_client(endpoints.registry_url), topic, "VerificationRequest")
    foreign = VerificationRequest(
        request_id=uuid.uuid4(),
        sector="health",
        record_id="h-1",
        pin=citizen["pin"],
        claims=VerificationClaims(given_name=citizen["given_name"]),
        requested_at=datetime.now(UTC),
    )
    producer = Producer({"bootstrap.servers": endpoints.bootstrap_servers})
    producer.produce(topic, encoder.encode(foreign), citizen["pin"].encode())
    producer.flush(30)
    ((_, tax_result),) = running.wait_for("tax", 1)
    assert str(tax_result.request_id) == tax_id
    assert tax_result.status.value == "REFUSED"
    assert [(p.claim, p.rule) for p in tax_result.problems] == [
        ("sex", "verification.field_not_allowed")
    ]
    ((_, foreign_result),) = running.wait_for(SECTOR, 1)
    assert foreign_result.status.value == "REFUSED"
    assert ("sector", "verification.sector_mismatch") in [
        (p.claim, p.rule) for p in foreign_result.problems
    ]


def test_undecodable_requests_are_dead_lettered_and_repeats_answered_the_same(
    running: Running,
) -> None:
    citizen = running.citizen
    settings = running.settings
    topics = Topics.from_settings(settings)
    topic = topics.verification_requests_topic(SECTOR)
    producer = Producer({"bootstrap.servers": settings.endpoints.bootstrap_servers})
    producer.produce(topic, b"\x07not avro", citizen["pin"].encode())
    producer.flush(30)
    good = {"record_id": "m-1", "pin": citizen["pin"], "given_name": citizen["given_name"]}
    with VerificationClient(SECTOR, settings=settings, campaign="c1") as mobile:
        good_id = mobile.submit(good)
    running.wait_for(SECTOR, 1)
    with VerificationClient(SECTOR, settings=settings, campaign="c1") as mobile:
        assert mobile.submit(good) == good_id  # the same campaign: the same request id
    (first, first_result), (second, _) = running.wait_for(SECTOR, 2)
    assert first == second  # the very same answer, byte for byte
    assert first_result.status.value == "MATCHED"
    engine = sa.create_engine(running.database_url)
    with engine.connect() as conn:  # ... and counted once
        stored = conn.execute(
            sa.text("SELECT count(*) FROM verification_answers WHERE request_id = :r"),
            {"r": good_id},
        ).scalar()
    engine.dispose()
    assert stored == 1
    letters = read_all(settings.endpoints.bootstrap_servers, topics.dead_letter)
    assert [header(m, H_REASON) for m in letters] == ["bad_magic_byte"]
    assert header(letters[0], H_TOPIC) == topic
    assert header(letters[0], H_CONSUMER) == f"{settings.topic_prefix}verifier"
    for name in (H_REASON, H_MESSAGE, H_TOPIC, H_CONSUMER):
        assert citizen["pin"] not in header(letters[0], name)


def test_csv_submission_reports_and_writes_unreadable_lines(
    bus_ready: Settings, tmp_path: Path
) -> None:
    import json

    requests = tmp_path / "customers.csv"
    requests.write_text(
        "record_id,pin,family_name,given_name,date_of_birth\n"
        "C-1,001190123456,Nguyễn,Ánh,1990-03-14\n"
        'C-2,001190123457,"Trần"\n'
        "C-3,,Lê,Anh,1990-01-01\n"
        "C-4,0011901234,Lê,Anh,1990-01-01\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"
    sent = run_cli(
        bus_ready,
        *("verify", "submit", "--sector", "tax", str(requests)),
        *("--rejects", str(rejects), "--json"),
    )
    assert sent.returncode == 1  # not every line was sent
    report = json.loads(sent.stdout)
    assert (report["lines"], report["sent"], report["delivered"]) == (4, 2, 2)
    assert [(r["line"], r["field"], r["rule"]) for r in report["rejected"]] == [
        (3, "(line)", "request.unreadable"),
        (4, "pin", "request.required"),
    ]
    assert rejects.read_text(encoding="utf-8").splitlines() == [
        "record_id,pin,family_name,given_name,date_of_birth",
        'C-2,001190123457,"Trần"',
        "C-3,,Lê,Anh,1990-01-01",
    ]
    assert "001190123457" not in sent.stderr  # no value in the messages
