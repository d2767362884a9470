"""Invalid inputs shared by the unit and integration rejection tests.

Each case changes one thing in a valid BirthRegistered event and names the field and rule the
error must report. `secret` is the personal value that must never appear in any message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.domain import make_pin

DOB = date(1990, 3, 14)
VALID_PIN = make_pin("001", DOB, "FEMALE", 123456)  # 001 1 90 123456


def valid_birth() -> dict[str, Any]:
    """A valid BirthRegistered event in its JSON form."""
    now = datetime.now(UTC) - timedelta(hours=1)
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "BirthRegistered",
        "source": "VN/GOV/BTP/hotich",
        "subject_pin": VALID_PIN,
        "change_type": "CREATED",
        "occurred_at": now.isoformat(),
        "recorded_at": now.isoformat(),
        "payload": {
            "name": {"family_name": "Nguyễn", "middle_name": "Thị", "given_name": "Ánh"},
            "date_of_birth": DOB.isoformat(),
            "sex": "FEMALE",
            "place_of_birth_registration": {
                "scheme": "VN-34",
                "province_code": "01",
                "commune_code": "00004",
            },
            "ethnicity": "Kinh",
            "nationalities": ["VN"],
            "certificate_number": "12/1990",
        },
    }


@dataclass(frozen=True)
class Case:
    """One invalid input: how to break the event, and what the error must say."""

    name: str
    field: str
    rule: str
    secret: str

    def apply(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.name.startswith("pin"):
            event["subject_pin"] = self.secret
        elif self.name == "sex_contradicts_digit":
            event["payload"]["sex"] = "MALE"
        elif self.name == "future_date_of_birth":
            future = date.today() + timedelta(days=400)
            event["payload"]["date_of_birth"] = future.isoformat()
        elif self.name == "name_with_digits":
            event["payload"]["name"]["given_name"] = self.secret
        return event


FUTURE = (date.today() + timedelta(days=400)).isoformat()
CASES = [
    Case("pin_11_digits", "subject_pin", "pin.length", VALID_PIN[:11]),
    Case("pin_13_digits", "subject_pin", "pin.length", VALID_PIN + "7"),
    Case("pin_unknown_province_003", "subject_pin", "pin.place_code", "003" + VALID_PIN[3:]),
    # G=3 says born in the 2000s (female); the birth year is 1990.
    Case(
        "pin_century_contradicts_birth_year",
        "subject_pin",
        "pin.century_sex",
        VALID_PIN[:3] + "3" + VALID_PIN[4:],
    ),
    # G=1 says female; the event says MALE.
    Case("sex_contradicts_digit", "subject_pin", "pin.sex_digit", VALID_PIN),
    Case("future_date_of_birth", "payload.date_of_birth", "date.future", FUTURE),
    Case("name_with_digits", "payload.name.given_name", "name.characters", "Ánh2024"),
]
