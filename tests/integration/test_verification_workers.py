"""Two verifier processes in one consumer group share a campaign (issue 15, several workers):
both hold partitions of the requests topic, every request is answered once, with the verdict the
campaign expects, and every repeat on the results topic is the first answer's bytes."""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from databus.kafka_retry import retrying
from databus.settings import Settings
from tests.population_harness import PROJECT_ROOT, stop_worker, wait_until
from tests.verification_harness import (
    SECTOR,
    build_campaign,
    generated_citizens,
    load_population,
    read_results,
    run_cli,
    start_verifier,
    write_requests,
)

REQUESTS = 6_000


def _assignments(settings: Settings, group: str) -> list[int]:
    """How many partitions each live member of `group` holds."""
    admin = AdminClient({"bootstrap.servers": settings.endpoints.bootstrap_servers})
    description = retrying(  # the group's coordinator may still be loading or moving
        lambda: admin.describe_consumer_groups([group])[group].result(timeout=10), 8
    )
    return [len(m.assignment.topic_partitions) for m in description.members]


def test_two_verifiers_in_one_group_answer_every_request_once(
    bus_ready: Settings, pg_url: str, tmp_path: Path
) -> None:
    citizens = generated_citizens(3_000, tmp_path)
    campaign = build_campaign(citizens, REQUESTS)
    load_population(pg_url, campaign)
    requests = tmp_path / "subscribers.jsonl"
    write_requests(requests, campaign.expected)
    group = f"{bus_ready.topic_prefix}verifier"
    logs = [tmp_path / f"verifier-{n}.log" for n in (1, 2)]
    verifiers = [start_verifier(bus_ready, pg_url, log, "--sector", SECTOR) for log in logs]
    try:
        wait_until(
            lambda: sorted(_assignments(bus_ready, group)) == [1, 2],
            180,
            "both verifiers holding partitions of the 3-partition requests topic",
            verifiers[0],
            logs[0],
        )
        started = time.monotonic()
        submitted = run_cli(
            bus_ready, "verify", "submit", "--sector", SECTOR, str(requests), "--json"
        )
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        out = tmp_path / "report.csv"
        done = run_cli(
            bus_ready,
            *("verify", "results", "--sector", SECTOR, "--requests", str(requests)),
            *("--out", str(out), "--wait", "300", "--json"),
            timeout=400,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        print(f"{REQUESTS} requests answered by 2 verifiers in {time.monotonic() - started:.1f} s")
        for verifier, log in zip(verifiers, logs, strict=True):
            assert verifier.poll() is None, log.read_text(errors="replace")[-3000:]
        assert sorted(_assignments(bus_ready, group)) == [1, 2]  # still both at the end
    finally:
        for verifier in verifiers:
            stop_worker(verifier)
        shutil.rmtree(PROJECT_ROOT / f"{group}-data", ignore_errors=True)

    summary = json.loads(done.stdout)
    assert summary["answered"] == REQUESTS and summary["unanswered"] == 0
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len({r["request_id"] for r in rows}) == len(rows) == REQUESTS
    expected = {e.record["record_id"]: e.status for e in campaign.expected}
    assert {r["record_id"]: r["status"] for r in rows} == expected
    first: dict[str, bytes] = {}
    for value, result in read_results(bus_ready, SECTOR):
        assert first.setdefault(str(result.request_id), value) == value
    assert len(first) == REQUESTS
