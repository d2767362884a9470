"""Verification decisions without Kafka or a database: claims, precedence, pacing, requests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from databus.population.lookup import REPLACED, Subject
from databus.topology.loader import load_topology
from producers.verification.records import request_from_data, request_id_for
from schemas.domain import make_pin
from schemas.models.downstream import (
    FieldVerdict,
    VerificationClaims,
    VerificationRequest,
    VerificationResult,
    VerificationStatus,
)
from streams.verification.claims import check_claims
from streams.verification.decide import answer
from streams.verification.pacing import TokenBucket
from tests.conftest import PROJECT_ROOT

TOPOLOGY = load_topology(PROJECT_ROOT / "deploy" / "topology.yaml")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PIN = make_pin("001", date(1990, 3, 14), "FEMALE", 123456)
SUBJECT = Subject(False, 3, False, ("Nguyễn", "Thị", "Ánh", "1990-03-14", "FEMALE", PIN))


def _request(
    sector: str = "mobile-subscribers", pin: str = PIN, **claims: str
) -> VerificationRequest:
    return VerificationRequest(
        request_id=uuid.uuid4(),
        sector=sector,
        record_id="sub-1",
        pin=pin,
        claims=VerificationClaims(**claims),
        requested_at=NOW,
    )


def _answer(
    request: VerificationRequest, subject: Subject | None, on: str = "mobile-subscribers"
) -> VerificationResult:
    checked = check_claims(request, on, TOPOLOGY.sector(on))
    return answer(request, on, checked, subject, NOW)


def test_matched_partial_mismatched_deceased() -> None:
    full = {"family_name": "Nguyễn", "middle_name": "Thị", "given_name": "Ánh"}
    ok = _answer(
        _request(**full, date_of_birth="1990-03-14", sex="FEMALE", identity_card_number=PIN),
        SUBJECT,
    )
    assert ok.status is VerificationStatus.MATCHED
    assert set(ok.verdicts.values()) == {FieldVerdict.MATCH}
    partial = _answer(_request(family_name="NGUYEN", given_name="anh"), SUBJECT)
    assert partial.status is VerificationStatus.PARTIAL
    assert partial.verdicts == {
        "family_name": FieldVerdict.MATCH_IGNORING_DIACRITICS,
        "given_name": FieldVerdict.MATCH_IGNORING_DIACRITICS,
    }
    wrong = _answer(_request(**full, date_of_birth="1990-03-15"), SUBJECT)
    assert wrong.status is VerificationStatus.MISMATCHED
    assert wrong.verdicts["date_of_birth"] is FieldVerdict.MISMATCH
    dead = Subject(False, 4, True, SUBJECT.values)
    assert _answer(_request(**full), dead).status is VerificationStatus.DECEASED


def test_not_found_and_replaced_check_nothing() -> None:
    missing = _answer(_request(given_name="Ánh"), None)
    assert missing.status is VerificationStatus.NOT_FOUND
    assert missing.verdicts == {"given_name": FieldVerdict.NOT_CHECKED}
    replaced = _answer(_request(given_name="Ánh"), REPLACED)
    assert replaced.status is VerificationStatus.PIN_REPLACED
    assert replaced.verdicts == {"given_name": FieldVerdict.NOT_CHECKED}


def test_invalid_claims_name_field_and_rule() -> None:
    bad_pin = _answer(_request(pin="999123456789", given_name="Ánh"), SUBJECT)
    assert bad_pin.status is VerificationStatus.INVALID
    assert [(p.claim, p.rule) for p in bad_pin.problems] == [("pin", "pin.place_code")]
    bad_date = _answer(_request(date_of_birth="1990-02-30"), SUBJECT)
    assert [(p.claim, p.rule) for p in bad_date.problems] == [("date_of_birth", "date.format")]
    bad_name = _answer(_request(given_name="Ánh2"), SUBJECT)
    assert [(p.claim, p.rule) for p in bad_name.problems] == [("given_name", "name.characters")]
    assert "999123456789" not in str(bad_pin.problems)


def test_refusals_name_the_field_or_the_sector() -> None:
    tax = _answer(_request(sector="tax", sex="FEMALE", given_name="Ánh"), SUBJECT, on="tax")
    assert tax.status is VerificationStatus.REFUSED
    assert [(p.claim, p.rule) for p in tax.problems] == [("sex", "verification.field_not_allowed")]
    assert tax.verdicts == {"sex": FieldVerdict.NOT_CHECKED, "given_name": FieldVerdict.NOT_CHECKED}
    health = _answer(_request(sector="health", given_name="Ánh"), SUBJECT)
    assert health.status is VerificationStatus.REFUSED
    assert ("sector", "verification.sector_mismatch") in [
        (p.claim, p.rule) for p in health.problems
    ]
    no_rights = check_claims(_request(sector="health"), "health", TOPOLOGY.sector("health"))
    assert [i.rule for i in no_rights.refused] == ["verification.not_enabled"]


def test_token_bucket_paces_without_dropping() -> None:
    now = [0.0]
    bucket = TokenBucket(100, clock=lambda: now[0])
    assert bucket.delay(100) == 0.0
    assert bucket.delay(50) == pytest.approx(0.5)
    now[0] = 1.5
    assert bucket.delay(50) == 0.0
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_request_from_data() -> None:
    made = request_from_data("tax", {"record_id": "c-1", "pin": PIN, "given_name": "Ánh"}, "june")
    assert isinstance(made, VerificationRequest)
    assert made.request_id == request_id_for("tax", "june", "c-1")
    assert made.claims.given_name == "Ánh" and made.claims.family_name is None
    issues = request_from_data("tax", {"pin": PIN, "shoe_size": "42"}, "june")
    assert isinstance(issues, tuple)
    assert {(i.field, i.rule) for i in issues} == {
        ("shoe_size", "request.unknown_field"),
        ("record_id", "request.required"),
    }


def test_the_rate_limit_comes_from_the_topology_and_must_be_positive() -> None:
    from databus.topology import TopologyError, parse_topology

    text = (PROJECT_ROOT / "deploy" / "topology.yaml").read_text(encoding="utf-8")
    assert TOPOLOGY.sector("mobile-subscribers").verification.rate_per_second == 50_000
    assert TOPOLOGY.sector("health").verification.rate_per_second is None
    broken = text.replace("rate_per_second: 5000\n", "rate_per_second: 0\n", 1)
    with pytest.raises(TopologyError, match="rate_per_second"):
        parse_topology(broken)
