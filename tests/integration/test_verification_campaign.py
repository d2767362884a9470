"""A 10,000-claim campaign through real Kafka and PostgreSQL: exact answers, no value leaked,
the summary of `verify results`, the usage trail.

The population database gets 10,000 generated citizens directly (COPY); the claims are those
citizens with known alterations (one in ten of each: diacritics stripped, uppercase, a typo in
the given name, a wrong date of birth, a wrong sex, an unknown PIN, a deceased citizen, a
re-established PIN, a malformed PIN, and exact copies). They are submitted with
`databus verify submit`, answered by `databus run verifier`, and read back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from databus.settings import Settings
from schemas.models.downstream import VerificationResult
from tests.conftest import LocalStack
from tests.population_harness import stop_worker
from tests.verification_harness import (
    SECTOR,
    Expected,
    build_campaign,
    fresh_bus,
    generated_citizens,
    leaf_strings,
    load_population,
    read_results,
    run_cli,
    start_usage_recorder,
    start_verifier,
    write_requests,
)

CLAIMS = 10_000
CONSULTED = frozenset({"MATCHED", "PARTIAL", "MISMATCHED", "DECEASED"})


@dataclass
class Run:
    settings: Settings
    database_url: str
    expected: list[Expected]
    raw: list[tuple[bytes, VerificationResult]]
    results: dict[str, VerificationResult]
    summary: dict[str, object]
    report_csv: Path


@pytest.fixture(scope="module")
def run(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    workdir = tmp_path_factory.mktemp("campaign")
    settings = fresh_bus(local_stack.bootstrap, local_stack.registry_url, local_stack.stack_dir)
    base = local_stack.database_url("postgres")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    campaign = build_campaign(generated_citizens(CLAIMS, workdir), CLAIMS)
    load_population(url, campaign)
    requests = workdir / "subscribers.jsonl"
    write_requests(requests, campaign.expected)
    log = workdir / "verifier.log"
    verifier = start_verifier(settings, url, log, "--sector", SECTOR, "--sector", "tax")
    recorder = start_usage_recorder(settings, url, workdir / "usage.log")
    try:
        submitted = run_cli(
            settings, "verify", "submit", "--sector", SECTOR, str(requests), "--json"
        )
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        sent = json.loads(submitted.stdout)
        assert sent["sent"] == sent["delivered"] == CLAIMS
        report_csv = workdir / "report.csv"
        done = run_cli(
            settings,
            *("verify", "results", "--sector", SECTOR, "--requests", str(requests)),
            *("--out", str(report_csv), "--wait", "180", "--json"),
        )
        assert done.returncode == 0, done.stdout + done.stderr + log.read_text()[-3000:]
        raw = read_results(settings, SECTOR)
        results: dict[str, VerificationResult] = {}
        for _value, result in raw:
            results.setdefault(result.record_id, result)
        _wait_for_usage(url, sum(1 for e in campaign.expected if e.status in CONSULTED))
        yield Run(
            settings, url, campaign.expected, raw, results, json.loads(done.stdout), report_csv
        )
    finally:
        stop_worker(verifier)
        stop_worker(recorder)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wait_for_usage(url: str, wanted: int) -> None:
    engine = sa.create_engine(url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            stored = conn.execute(
                sa.text("SELECT count(*) FROM data_usage WHERE purpose = 'VERIFICATION'")
            ).scalar()
        if stored == wanted:
            break
        time.sleep(0.5)
    engine.dispose()


def test_ten_thousand_claims_get_exactly_the_expected_answers(run: Run) -> None:
    assert len(run.raw) == CLAIMS
    kinds: Counter[str] = Counter()
    for item in run.expected:
        result = run.results[item.record["record_id"]]
        got = {k: v.value for k, v in result.verdicts.items()}
        assert (result.status.value, got) == (item.status, item.verdicts), item.alteration
        assert [(p.claim, p.rule) for p in result.problems] == item.problems, item.alteration
        assert result.pin == item.record["pin"]
        kinds[item.alteration] += 1
    assert set(kinds.values()) == {CLAIMS // 10}
    statuses = Counter(item.status for item in run.expected)
    assert run.summary["statuses"] == dict(sorted(statuses.items()))
    assert statuses["PARTIAL"] > 900 and statuses["MATCHED"] > 2000


def test_no_result_carries_a_value_of_the_population_database(run: Run) -> None:
    """Every string of the record the claimed PIN leads to (names, dates, card, relatives,
    the new PIN of a re-established one) that is not in the request is absent from the raw
    bytes of its result."""
    by_record = {item.record["record_id"]: item for item in run.expected}
    checked = 0
    for value, result in run.raw:
        item = by_record[result.record_id]
        request_bytes = json.dumps(item.record, ensure_ascii=False).encode()
        for text in set(leaf_strings(item.subject or {})):
            encoded = text.encode()
            if len(text) < 3 or (text.isdigit() and len(text) < 9) or encoded in request_bytes:
                continue  # (short codes such as a district's "006" occur inside any UUID)
            assert encoded not in value, (item.alteration, "a database value is in a result")
            checked += 1
    assert checked > CLAIMS * 10


def test_report_and_summary(run: Run) -> None:
    import csv

    with run.report_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == CLAIMS
    assert {r["record_id"] for r in rows} == {e.record["record_id"] for e in run.expected}
    assert run.summary["unanswered"] == 0
    act = sum(
        1
        for e in run.expected
        if e.status in {"MISMATCHED", "NOT_FOUND", "DECEASED", "PIN_REPLACED", "INVALID"}
    )
    assert run.summary["to_act"] == act
    mismatched = run.summary["mismatched_fields"]
    assert isinstance(mismatched, dict)
    assert mismatched == {
        "date_of_birth": CLAIMS // 10,
        "given_name": CLAIMS // 10,
        "sex": CLAIMS // 10,
    }


def test_every_verification_is_in_the_usage_trail(run: Run) -> None:
    item = next(e for e in run.expected if e.status == "MISMATCHED")
    shown = run_cli(
        run.settings, "usage", item.record["pin"], "--database-url", run.database_url, "--json"
    )
    assert shown.returncode == 0, shown.stderr
    rows = [r for r in json.loads(shown.stdout) if r["purpose"] == "VERIFICATION"]
    assert len(rows) == 1
    assert rows[0]["sector"] == SECTOR and rows[0]["outcome"] == "MISMATCHED"
    assert rows[0]["legal_basis"] and "pin" in rows[0]["fields"]
    engine = sa.create_engine(run.database_url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM data_usage WHERE purpose = 'VERIFICATION'")
        ).scalar()
    engine.dispose()
    assert stored == sum(1 for e in run.expected if e.status in CONSULTED)
