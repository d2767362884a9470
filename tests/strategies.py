"""Hypothesis strategies for valid citizens and events (Vietnamese names, valid PINs, units)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from hypothesis import strategies as st

from schemas.domain import PIN_PROVINCE_CODES, VN34_PROVINCES, VN63_PROVINCES, make_pin

FAMILY_NAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE_NAMES = ["Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Quốc", "Xuân", "Thu"]
GIVEN_NAMES = [
    "Anh",
    "Ánh",
    "Bảo",
    "Châu",
    "Dũng",
    "Đạt",
    "Giang",
    "Hà",
    "Hải",
    "Hằng",
    "Hiếu",
    "Hương",
    "Khánh",
    "Linh",
    "Loan",
    "Mai",
    "Nam",
    "Ngân",
    "Nhung",
    "Phúc",
    "Quân",
    "Quỳnh",
    "Sơn",
    "Tâm",
    "Thảo",
    "Thủy",
    "Trang",
    "Tuấn",
    "Uyên",
    "Việt",
    "Yến",
]
NOW = datetime.now(UTC) - timedelta(minutes=10)


def as_form(name: str, form: Literal["NFC", "NFD"]) -> str:
    """The name in Unicode normal form `form` (NFC composed or NFD decomposed)."""
    return unicodedata.normalize(form, name)


FORMS: list[Literal["NFC", "NFD"]] = ["NFC", "NFD"]
names = st.sampled_from(FORMS).flatmap(
    lambda form: st.fixed_dictionaries(
        {
            "family_name": st.sampled_from(FAMILY_NAMES).map(lambda n: as_form(n, form)),
            "middle_name": st.none()
            | st.sampled_from(MIDDLE_NAMES).map(lambda n: as_form(n, form)),
            "given_name": st.sampled_from(GIVEN_NAMES).map(lambda n: as_form(n, form)),
        }
    )
)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=NOW.date() - timedelta(days=1))
sexes = st.sampled_from(["MALE", "FEMALE"])
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=NOW.replace(tzinfo=None), timezones=st.just(UTC)
)


@st.composite
def pins(draw: st.DrawFn, dob: date | None = None, sex: str | None = None) -> str:
    """A valid PIN for `dob` and `sex` (drawn when not given)."""
    place = draw(st.sampled_from(sorted(PIN_PROVINCE_CODES)))
    return make_pin(
        place, dob or draw(birth_dates), sex or draw(sexes), draw(st.integers(0, 999_999))
    )


@st.composite
def admin_units(draw: st.DrawFn, as_of: date | None = None) -> dict[str, Any]:
    """An administrative unit valid for its scheme (VN-63 before 1 July 2025, VN-34 after)."""
    vn34 = as_of >= date(2025, 7, 1) if as_of is not None else draw(st.booleans())
    table = VN34_PROVINCES if vn34 else VN63_PROVINCES
    return {
        "scheme": "VN-34" if vn34 else "VN-63",
        "province_code": draw(st.sampled_from(sorted(table))),
        "district_code": None if vn34 else draw(st.from_regex(r"\A[0-9]{3}\Z")),
        "commune_code": draw(st.none() | st.from_regex(r"\A[0-9]{5}\Z")),
    }


@st.composite
def person_refs(draw: st.DrawFn) -> dict[str, Any]:
    return {"pin": draw(st.none() | pins()), "name": draw(names)}


@st.composite
def envelopes(draw: st.DrawFn, event_type: str, source: str, subject_pin: str) -> dict[str, Any]:
    occurred = draw(timestamps)
    recorded = occurred + timedelta(seconds=draw(st.integers(0, 3600)))
    return {
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "event_type": event_type,
        "source": source,
        "subject_pin": subject_pin,
        "occurred_at": occurred.isoformat(),
        "recorded_at": min(recorded, NOW).isoformat(),
        "correlation_id": draw(st.none() | st.text("abcdef0123456789", min_size=8, max_size=16)),
    }


@st.composite
def birth_events(draw: st.DrawFn) -> dict[str, Any]:
    dob, sex = draw(birth_dates), draw(sexes)
    event = draw(envelopes("BirthRegistered", "VN/GOV/BTP/hotich", draw(pins(dob, sex))))
    event["payload"] = {
        "name": draw(names),
        "date_of_birth": dob.isoformat(),
        "sex": sex,
        "place_of_birth": draw(st.none() | st.sampled_from(["Bệnh viện Bạch Mai", "Trạm y tế"])),
        "place_of_birth_registration": draw(
            admin_units(datetime.fromisoformat(event["occurred_at"]).date())
        ),
        "ethnicity": draw(st.sampled_from(["Kinh", "Tày", "Thái", "Mường", "Khmer", "Hmông"])),
        "nationalities": ["VN"],
        "father": draw(st.none() | person_refs()),
        "mother": draw(st.none() | person_refs()),
        "certificate_number": f"{draw(st.integers(1, 9999))}/{dob.year}",
    }
    return event


@st.composite
def residence_events(draw: st.DrawFn) -> dict[str, Any]:
    registered = draw(st.dates(min_value=date(2000, 1, 1), max_value=NOW.date()))
    event = draw(envelopes("PermanentResidenceRegistered", "VN/GOV/BCA/cutru", draw(pins())))
    event["payload"] = {
        "address": {
            "unit": draw(admin_units(registered)),
            "street": draw(st.none() | st.sampled_from(["12 Hàng Bạc", "Thôn Đông"])),
        },
        "household_id": f"HK{draw(st.integers(1, 10**9))}",
        "relation_to_head": draw(st.sampled_from(["CHU_HO", "VO", "CHONG", "CON"])),
        "registered_on": registered.isoformat(),
    }
    return event


@st.composite
def death_events(draw: st.DrawFn) -> dict[str, Any]:
    died = draw(st.dates(min_value=date(1950, 1, 1), max_value=NOW.date()))
    event = draw(envelopes("DeathRegistered", "VN/GOV/BTP/hotich", draw(pins())))
    event["payload"] = {
        "date_of_death": died.isoformat(),
        "place_of_death": None,
        "certificate_number": f"KT-{draw(st.integers(1, 99999))}",
    }
    return event


@st.composite
def pin_issued_events(draw: st.DrawFn) -> dict[str, Any]:
    dob, sex = draw(birth_dates), draw(sexes)
    event = draw(envelopes("PinIssued", "VN/GOV/BCA/dinhdanh", draw(pins(dob, sex))))
    event["payload"] = {
        "date_of_birth": dob.isoformat(),
        "sex": sex,
        "issued_on": max(dob, date(2016, 1, 1)).isoformat(),
    }
    return event


events = st.one_of(birth_events(), residence_events(), death_events(), pin_issued_events())
