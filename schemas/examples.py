"""One valid example of every event type, in the JSON form `databus publish` reads.

Used by `docs/events.md`, the demo and the tests (every example must validate).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from schemas.domain import make_pin

_CHILD_PIN = make_pin("001", date(2024, 5, 17), "FEMALE", 482913)
_MOTHER_PIN = make_pin("036", date(1996, 2, 3), "FEMALE", 115204)
_FATHER_PIN = make_pin("036", date(1994, 9, 21), "MALE", 770381)
_NEW_PIN = make_pin("001", date(1994, 9, 21), "FEMALE", 770382)

_ENVELOPE: dict[str, Any] = {
    "change_type": "CREATED",
    "corrects_event_id": None,
    "occurred_at": "2025-08-04T09:30:00+07:00",
    "recorded_at": "2025-08-04T10:02:11+07:00",
    "correlation_id": None,
}
_MOTHER = {
    "pin": _MOTHER_PIN,
    "name": {"family_name": "Trần", "middle_name": "Thị", "given_name": "Hằng"},
}
_FATHER = {
    "pin": _FATHER_PIN,
    "name": {"family_name": "Nguyễn", "middle_name": "Văn", "given_name": "Dũng"},
}
_HANOI_WARD = {
    "scheme": "VN-34",
    "province_code": "01",
    "district_code": None,
    "commune_code": "00004",
}


def _event(
    n: int, event_type: str, source: str, subject: str | None, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": f"7d1f3c2a-0c55-4e8b-9f0e-{n:012d}",
        "event_type": event_type,
        "source": source,
        "subject_pin": subject,
        **_ENVELOPE,
        "payload": payload,
    }


EXAMPLES: dict[str, dict[str, Any]] = {
    "BirthRegistered": _event(
        1,
        "BirthRegistered",
        "VN/GOV/BTP/hotich",
        _CHILD_PIN,
        {
            "name": {"family_name": "Nguyễn", "middle_name": "Ngọc", "given_name": "Ánh"},
            "date_of_birth": "2024-05-17",
            "sex": "FEMALE",
            "place_of_birth": "Bệnh viện Phụ sản Hà Nội",
            "place_of_birth_registration": _HANOI_WARD,
            "hometown": "Nam Định",
            "ethnicity": "Kinh",
            "nationalities": ["VN"],
            "father": _FATHER,
            "mother": _MOTHER,
            "certificate_number": "118/2025",
        },
    ),
    "DeathRegistered": _event(
        2,
        "DeathRegistered",
        "VN/GOV/BTP/hotich",
        _FATHER_PIN,
        {
            "date_of_death": "2025-08-01",
            "place_of_death": "Hà Nội",
            "certificate_number": "KT-0042/2025",
        },
    ),
    "MarriageRegistered": _event(
        3,
        "MarriageRegistered",
        "VN/GOV/BTP/hotich",
        _MOTHER_PIN,
        {
            "spouse": _FATHER,
            "married_on": "2025-08-02",
            "registered_at": _HANOI_WARD,
            "certificate_number": "KH-77/2025",
        },
    ),
    "MarriageDissolved": _event(
        4,
        "MarriageDissolved",
        "VN/GOV/BTP/hotich",
        _MOTHER_PIN,
        {
            "spouse": _FATHER,
            "dissolved_on": "2025-08-03",
            "reason": "DIVORCE",
            "decision_number": "15/2025/QDST-HNGD",
        },
    ),
    "CivilStatusChanged": _event(
        5,
        "CivilStatusChanged",
        "VN/GOV/BTP/hotich",
        _MOTHER_PIN,
        {
            "name": {"family_name": "Trần", "middle_name": "Ngọc", "given_name": "Hằng"},
            "sex": None,
            "ethnicity": None,
            "nationalities": None,
            "decision_number": "203/QD-UBND",
        },
    ),
    "PermanentResidenceRegistered": _event(
        6,
        "PermanentResidenceRegistered",
        "VN/GOV/BCA/cutru",
        _MOTHER_PIN,
        {
            "address": {"unit": _HANOI_WARD, "street": "12 Hàng Bạc"},
            "household_id": "HK0100000123",
            "relation_to_head": "CHU_HO",
            "registered_on": "2025-08-04",
        },
    ),
    "TemporaryResidenceRegistered": _event(
        7,
        "TemporaryResidenceRegistered",
        "VN/GOV/BCA/cutru",
        _MOTHER_PIN,
        {
            "address": {"unit": {**_HANOI_WARD, "province_code": "79"}, "street": "45 Lê Lợi"},
            "registered_on": "2025-08-04",
            "valid_until": "2027-08-04",
        },
    ),
    "ResidenceDeregistered": _event(
        8,
        "ResidenceDeregistered",
        "VN/GOV/BCA/cutru",
        _MOTHER_PIN,
        {
            "residence_kind": "TEMPORARY",
            "deregistered_on": "2025-08-04",
            "reason": "MOVED_PERMANENTLY",
        },
    ),
    "Emigrated": _event(
        9,
        "Emigrated",
        "VN/GOV/BCA/cutru",
        _MOTHER_PIN,
        {
            "destination_country": "JP",
            "departed_on": "2025-08-04",
        },
    ),
    "PinIssued": _event(
        10,
        "PinIssued",
        "VN/GOV/BCA/dinhdanh",
        _CHILD_PIN,
        {
            "date_of_birth": "2024-05-17",
            "sex": "FEMALE",
            "issued_on": "2024-05-20",
        },
    ),
    "PinReestablished": _event(
        11,
        "PinReestablished",
        "VN/GOV/BCA/dinhdanh",
        _NEW_PIN,
        {
            "old_pin": _FATHER_PIN,
            "reason": "GENDER_REDETERMINATION",
            "date_of_birth": "1994-09-21",
            "sex": "FEMALE",
            "effective_on": "2025-08-04",
        },
    ),
    "IdentityCardIssued": _event(
        12,
        "IdentityCardIssued",
        "VN/GOV/BCA/dinhdanh",
        _MOTHER_PIN,
        {
            "card": {
                "card_type": "CAN_CUOC",
                "number": _MOTHER_PIN,
                "issued_on": "2025-08-04",
                "expires_on": "2036-02-03",
                "issuer": "Cục Cảnh sát QLHC về TTXH",
            },
        },
    ),
    "AdministrativeUnitsReorganized": _event(
        13,
        "AdministrativeUnitsReorganized",
        "VN/GOV/BTC/thongke",
        None,
        {
            "from_scheme": "VN-63",
            "to_scheme": "VN-34",
            "effective_on": "2025-07-01",
            "legal_instrument": "Nghị quyết 202/2025/QH15",
            "mappings": [
                {
                    "from_province": "02",
                    "from_district": None,
                    "from_commune": None,
                    "to_province": "08",
                    "to_commune": None,
                }
            ],
        },
    ),
}
