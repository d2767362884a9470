"""Names, dates, administrative units and the place tables. Fast: no services."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.domain import (
    PIN_PROVINCE_CODES,
    SCHEME_CUTOVER,
    SCHEME_VN34,
    SCHEME_VN63,
    VN34_PROVINCES,
    VN63_PROVINCES,
    VN63_TO_VN34,
    admin_unit_issues,
    date_issues,
    name_issues,
    normalize_name,
    scheme_for,
    timestamp_issues,
)

ICT = timezone(timedelta(hours=7))

# --- names -----------------------------------------------------------------------------------

COMPOSED = "Nguyễn Thị Ánh"
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)


def name_rules(value: str, **kwargs: object) -> list[str]:
    return [issue.rule for issue in name_issues(value, "family_name", **kwargs)]  # type: ignore[arg-type]


def test_composed_and_decomposed_names_normalise_equal() -> None:
    assert COMPOSED != DECOMPOSED
    assert normalize_name(COMPOSED) == normalize_name(DECOMPOSED) == COMPOSED
    assert unicodedata.is_normalized("NFC", normalize_name(DECOMPOSED))
    assert name_issues(DECOMPOSED, "given_name") == []


def test_whitespace_is_collapsed_and_stripped() -> None:
    assert normalize_name("  Trần\u00a0\u00a0Văn \t\nBình\u3000 ") == "Trần Văn Bình"
    assert normalize_name("Lê") == "Lê"
    assert normalize_name(" \u00a0 ") == ""


@pytest.mark.parametrize(
    "value",
    [
        "Nguyễn",
        "Đặng Thị Ngọc Hường",
        "H'Hen Niê",
        "Ksor Y-Bhin",
        "Jr.",
        "Müller-Lüdenscheidt",
        "Ông Ích Khiêm",
        unicodedata.normalize("NFD", "Đoàn Thị Điểm"),
        "e\u0301\u0323",  # a letter followed by two combining marks NFC cannot fully compose
    ],
)
def test_valid_names(value: str) -> None:
    assert name_issues(value, "given_name") == []


@pytest.mark.parametrize(
    "value",
    [
        "Nguyễn 3",
        "Trần@Thị",
        "Lê\x07Hoa",
        "Phạm\u200bVăn",  # zero-width space: a format character
        "Hoa_Lan",
        "Hoa!",
        "\u0301Hoa",  # a combining mark with no letter before it
        "Hoa -\u0301",
        "-.'",  # no letter at all
    ],
)
def test_name_characters(value: str) -> None:
    assert name_rules(value) == ["name.characters"]


def test_name_empty_and_optional() -> None:
    assert name_rules("") == ["name.empty"]
    assert name_rules(" \u00a0\t") == ["name.empty"]
    assert name_rules("", required=False) == []


def test_name_too_long_counts_normalised_code_points() -> None:
    assert name_rules("a" * 100) == []
    assert name_rules("a" * 101) == ["name.too_long"]
    assert name_rules("Ánh " * 3, max_length=11) == []
    assert name_rules(unicodedata.normalize("NFD", "Ánh") * 4, max_length=12) == []
    assert name_rules("1" * 101) == ["name.too_long", "name.characters"]


VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
)
VIETNAMESE_ALPHABET = VIETNAMESE + VIETNAMESE.upper() + " \u00a0"


@given(st.text())
def test_normalize_name_is_idempotent(value: str) -> None:
    once = normalize_name(value)
    assert normalize_name(once) == once
    assert once == once.strip()
    assert "  " not in once


@given(st.text())
def test_composed_and_decomposed_forms_normalise_equal(value: str) -> None:
    nfc = unicodedata.normalize("NFC", value)
    nfd = unicodedata.normalize("NFD", value)
    assert normalize_name(nfc) == normalize_name(nfd) == normalize_name(value)


@given(st.text(alphabet=VIETNAMESE_ALPHABET, min_size=1).filter(lambda s: s.split()))
def test_vietnamese_names_valid_in_either_form(value: str) -> None:
    assert name_issues(value, "given_name", max_length=10_000) == []
    assert name_issues(unicodedata.normalize("NFD", value), "given_name", max_length=10_000) == []


# --- dates and timestamps --------------------------------------------------------------------

TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_dates() -> None:
    assert date_issues(TODAY, "date_of_birth", today=TODAY) == []
    assert date_issues(date(1900, 1, 1), "date_of_birth", today=TODAY) == []
    assert [i.rule for i in date_issues(TODAY + timedelta(days=1), "d", today=TODAY)] == [
        "date.future"
    ]
    assert [i.rule for i in date_issues(date(1899, 12, 31), "d", today=TODAY)] == [
        "date.before_1900"
    ]
    # A datetime is checked by its date.
    assert date_issues(datetime(2026, 1, 15, 23, 59), "d", today=TODAY) == []


def test_default_today_is_lenient_about_time_zones() -> None:
    # Today anywhere on earth is never in the future.
    for hours in (-12, 0, 7, 14):
        local_today = datetime.now(timezone(timedelta(hours=hours))).date()
        assert date_issues(local_today, "d") == []
    assert [i.rule for i in date_issues(date.today() + timedelta(days=2), "d")] == ["date.future"]


def test_timestamps() -> None:
    assert timestamp_issues(NOW, "occurred_at", now=NOW) == []
    assert timestamp_issues(NOW + timedelta(minutes=5), "t", now=NOW) == []
    assert timestamp_issues(NOW.astimezone(ICT), "t", now=NOW) == []
    assert timestamp_issues(NOW, "t", now=NOW.astimezone(ICT)) == []
    ict_late = (NOW + timedelta(minutes=6)).astimezone(ICT)
    assert [i.rule for i in timestamp_issues(ict_late, "t", now=NOW.astimezone(ICT))] == [
        "date.future"
    ]
    assert [i.rule for i in timestamp_issues(NOW + timedelta(minutes=6), "t", now=NOW)] == [
        "date.future"
    ]
    assert timestamp_issues(NOW + timedelta(hours=1), "t", now=NOW, skew=timedelta(hours=2)) == []
    assert [i.rule for i in timestamp_issues(datetime(1899, 12, 31, tzinfo=UTC), "t")] == [
        "date.before_1900"
    ]
    assert timestamp_issues(datetime(1900, 1, 1, tzinfo=ICT), "t") == []
    # Already 1900 in Vietnam though still 1899 in UTC: accepted; 1899 everywhere: refused.
    assert timestamp_issues(datetime(1900, 1, 1, 5, tzinfo=ICT), "t") == []
    assert [i.rule for i in timestamp_issues(datetime(1899, 12, 31, 9, 59, tzinfo=UTC), "t")] == [
        "date.before_1900"
    ]
    assert [i.rule for i in timestamp_issues(datetime(2020, 1, 1), "t")] == ["timestamp.naive"]
    assert timestamp_issues(datetime.now(UTC), "t") == []


def test_timestamp_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match=r"^now: "):
        timestamp_issues(NOW, "t", now=datetime(2026, 1, 1))


# --- administrative units --------------------------------------------------------------------

BEFORE = date(2025, 6, 30)


def admin_rules(*args: object, **kwargs: object) -> list[tuple[str, str]]:
    issues = admin_unit_issues(*args, **kwargs)  # type: ignore[arg-type]
    return [(issue.field, issue.rule) for issue in issues]


def test_valid_addresses() -> None:
    assert admin_rules(SCHEME_VN63, "01", "001", "00001", "addr", as_of=BEFORE) == []
    assert admin_rules(SCHEME_VN63, "02", None, None, "addr") == []
    assert admin_rules(SCHEME_VN34, "08", None, "00001", "addr", as_of=SCHEME_CUTOVER) == []
    # Without as_of, either scheme is accepted whatever the date.
    assert admin_rules(SCHEME_VN63, "96", "964", "32248", "addr") == []


def test_admin_rules_and_fields() -> None:
    assert admin_rules("VN-99", "01", None, None, "a") == [("a.scheme", "admin.scheme")]
    assert admin_rules(SCHEME_VN34, "02", None, None, "a") == [("a.province", "admin.province")]
    assert admin_rules(SCHEME_VN63, "03", None, None, "a") == [("a.province", "admin.province")]
    assert admin_rules(SCHEME_VN63, "1", None, None, "a") == [("a.province", "admin.province")]
    assert admin_rules(SCHEME_VN34, "01", "001", None, "a") == [("a.district", "admin.district")]
    assert admin_rules(SCHEME_VN63, "01", "01", None, "a") == [("a.district", "admin.district")]
    assert admin_rules(SCHEME_VN63, "01", "", None, "a") == [("a.district", "admin.district")]
    assert admin_rules(SCHEME_VN63, "01", None, "0001", "a") == [("a.commune", "admin.commune")]
    assert admin_rules(SCHEME_VN34, "01", None, "0000A", "a") == [("a.commune", "admin.commune")]
    assert admin_rules(SCHEME_VN63, "01", None, None, "a", as_of=SCHEME_CUTOVER) == [
        ("a.scheme", "admin.scheme_date")
    ]
    assert admin_rules(SCHEME_VN34, "01", None, None, "a", as_of=BEFORE) == [
        ("a.scheme", "admin.scheme_date")
    ]


def test_unknown_scheme_still_checks_code_formats() -> None:
    assert admin_rules("VN-99", "01", "1", "1", "a", as_of=BEFORE) == [
        ("a.scheme", "admin.scheme"),
        ("a.district", "admin.district"),
        ("a.commune", "admin.commune"),
    ]


def test_scheme_for() -> None:
    assert scheme_for(BEFORE) == SCHEME_VN63
    assert scheme_for(SCHEME_CUTOVER) == SCHEME_VN34
    assert scheme_for(date(1990, 1, 1)) == SCHEME_VN63


# --- place tables ----------------------------------------------------------------------------


def test_province_tables() -> None:
    assert len(PIN_PROVINCE_CODES) == 63
    assert len(set(PIN_PROVINCE_CODES.values())) == 63
    assert PIN_PROVINCE_CODES["001"] == "Hà Nội"
    assert PIN_PROVINCE_CODES["096"] == "Cà Mau"
    assert all(len(code) == 3 and code.isdigit() for code in PIN_PROVINCE_CODES)
    assert dict(VN63_PROVINCES) == {code[1:]: name for code, name in PIN_PROVINCE_CODES.items()}
    assert len(VN34_PROVINCES) == 34
    assert len(set(VN34_PROVINCES.values())) == 34
    assert all(len(code) == 2 and code.isdigit() for code in VN34_PROVINCES)
    assert all(
        unicodedata.is_normalized("NFC", name)
        for name in [*PIN_PROVINCE_CODES.values(), *VN34_PROVINCES.values()]
    )


def test_every_vn63_province_maps_to_a_vn34_province_and_every_vn34_is_hit() -> None:
    assert set(VN63_TO_VN34) == set(VN63_PROVINCES)
    assert set(VN63_TO_VN34.values()) == set(VN34_PROVINCES)


def test_every_vn34_code_is_a_vn63_code_kept_by_one_of_the_merged_provinces() -> None:
    for code in VN34_PROVINCES:
        assert VN63_TO_VN34[code] == code


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("02", "08"),
        ("10", "15"),
        ("15", "15"),
        ("06", "19"),
        ("26", "25"),
        ("17", "25"),
        ("27", "24"),
        ("24", "24"),
        ("34", "33"),
        ("30", "31"),
        ("35", "37"),
        ("36", "37"),
        ("44", "44"),
        ("45", "44"),
        ("49", "48"),
        ("62", "51"),
        ("52", "52"),
        ("64", "52"),
        ("58", "56"),
        ("54", "66"),
        ("67", "68"),
        ("60", "68"),
        ("74", "79"),
        ("77", "79"),
        ("70", "75"),
        ("72", "80"),
        ("80", "80"),
        ("82", "82"),
        ("87", "82"),
        ("83", "86"),
        ("84", "86"),
        ("86", "86"),
        ("89", "91"),
        ("91", "91"),
        ("94", "92"),
        ("93", "92"),
        ("92", "92"),
        ("95", "96"),
        ("96", "96"),
        ("46", "46"),
        ("01", "01"),
    ],
)
def test_known_mergers(old: str, new: str) -> None:
    assert VN63_TO_VN34[old] == new


def test_merged_province_counts() -> None:
    sizes = {new: list(VN63_TO_VN34.values()).count(new) for new in VN34_PROVINCES}
    assert sum(sizes.values()) == 63
    assert sorted(code for code, size in sizes.items() if size == 1) == [
        "01", "04", "11", "12", "14", "20", "22", "38", "40", "42", "46"
    ]  # fmt: skip
    assert sorted(code for code, size in sizes.items() if size == 3) == [
        "25", "37", "68", "79", "86", "92"
    ]  # fmt: skip


def test_dates_in_force_are_vietnamese_calendar_dates_whatever_the_offset() -> None:
    """A birth registered at 00:30 on 1 July 2025 in Hà Nội under VN-34 is valid, also once an
    Avro round trip has given its timestamp back in UTC (30 June, 17:30)."""
    import copy

    from schemas.catalog import EVENT_DOMAINS
    from schemas.codec import event_from_data
    from schemas.domain import local_date, make_pin
    from schemas.examples import EXAMPLES

    data = copy.deepcopy(EXAMPLES["BirthRegistered"])
    data["occurred_at"] = "2025-07-01T00:30:00+07:00"
    data["recorded_at"] = "2025-07-01T00:45:00+07:00"
    data["payload"]["date_of_birth"] = "2025-07-01"
    data["subject_pin"] = make_pin("001", date(2025, 7, 1), data["payload"]["sex"], 1)
    assert data["payload"]["place_of_birth_registration"]["scheme"] == "VN-34"
    civil = EVENT_DOMAINS["civil-status"]
    event_from_data(civil, data)
    in_utc = {
        **data,
        "occurred_at": datetime.fromisoformat(data["occurred_at"]).astimezone(UTC),
        "recorded_at": datetime.fromisoformat(data["recorded_at"]).astimezone(UTC),
    }
    event = event_from_data(civil, in_utc)
    assert event.occurred_at.date() == date(2025, 6, 30)
    assert local_date(event.occurred_at) == date(2025, 7, 1)
