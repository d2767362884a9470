"""Invalid events are refused at the edge with the field and the rule, and no personal value."""

from __future__ import annotations

import pytest

from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data
from schemas.domain import ContractError
from tests.contract_cases import CASES, VALID_PIN, Case, valid_birth

CIVIL = EVENT_DOMAINS["civil-status"]


def test_the_valid_event_is_accepted() -> None:
    assert event_from_data(CIVIL, valid_birth()).subject_pin == VALID_PIN


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_invalid_input_is_rejected_naming_field_and_rule(case: Case) -> None:
    with pytest.raises(ContractError) as raised:
        event_from_data(CIVIL, case.apply(valid_birth()))
    error = raised.value
    assert (case.field, case.rule) in {(i.field, i.rule) for i in error.issues}, error
    for text in (str(error), repr(error), *(str(i) for i in error.issues)):
        assert case.secret not in text
        assert VALID_PIN not in text
        assert "Nguyễn" not in text
    assert str(error).startswith("event ")


def test_every_model_rule_fires() -> None:
    fired: set[str] = set()

    def rules_of(event: dict[str, object], domain: str = "civil-status") -> set[str]:
        try:
            event_from_data(EVENT_DOMAINS[domain], event)
        except ContractError as exc:
            return set(exc.rules)
        return set()

    fired |= rules_of({**valid_birth(), "event_type": "Teleported"})
    fired |= rules_of({**valid_birth()}, domain="residence")
    fired |= rules_of({**valid_birth(), "change_type": "CORRECTED"})
    early = valid_birth()
    early["recorded_at"] = "2001-01-01T00:00:00+00:00"
    fired |= rules_of(early)
    changed = {
        **valid_birth(),
        "event_type": "CivilStatusChanged",
        "payload": {"decision_number": "5/QD"},
    }
    fired |= rules_of(changed)
    reest = {
        **valid_birth(),
        "event_type": "PinReestablished",
        "source": "VN/GOV/BCA/dinhdanh",
        "payload": {
            "old_pin": VALID_PIN,
            "reason": "ISSUANCE_ERROR",
            "date_of_birth": "1990-03-14",
            "sex": "FEMALE",
            "effective_on": "2020-01-01",
        },
    }
    fired |= rules_of(reest, domain="identity")
    assert {
        "event.unknown_type",
        "event.wrong_topic",
        "event.corrects_event_id",
        "event.recorded_before_occurred",
        "event.no_change",
        "pin.reestablished_same",
    } <= fired


def test_pydantic_shape_errors_become_schema_rules_without_values() -> None:
    event = valid_birth()
    del event["payload"]["sex"]
    event["payload"]["ethnicity"] = 42
    with pytest.raises(ContractError) as raised:
        event_from_data(CIVIL, event)
    found = {(i.field, i.rule) for i in raised.value.issues}
    assert ("payload.sex", "schema.missing") in found
    assert ("payload.ethnicity", "schema.string_type") in found
