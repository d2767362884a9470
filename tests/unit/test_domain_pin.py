"""PIN structure: the valid cases, each rule, and make_pin/century_sex_digit. Fast: no services."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.domain import (
    FEMALE,
    MALE,
    PIN_PLACE_CODES,
    PIN_PROVINCE_CODES,
    SEX_VALUES,
    century_sex_digit,
    is_pin_place_code,
    make_pin,
    pin_issues,
)

DOB = date(2005, 3, 4)


def rules(pin: str, **kwargs: object) -> list[str]:
    return [issue.rule for issue in pin_issues(pin, **kwargs)]  # type: ignore[arg-type]


def test_valid_pins_have_no_issues() -> None:
    assert pin_issues("001205000123") == []
    assert pin_issues("001205000123", date_of_birth=DOB, sex=MALE) == []
    assert pin_issues("079305999999", date_of_birth=DOB, sex=FEMALE) == []
    assert pin_issues("001099123456", date_of_birth=date(1999, 12, 31), sex=MALE) == []
    assert pin_issues("096200000000", date_of_birth=date(2000, 1, 1), sex=MALE) == []
    # Births registered abroad carry a country code 101-295.
    assert pin_issues("101305000001", date_of_birth=DOB, sex=FEMALE) == []
    assert pin_issues("295305000001", date_of_birth=DOB, sex=FEMALE) == []


@pytest.mark.parametrize(
    ("g", "year", "sex"),
    [
        ("0", 1950, MALE),
        ("1", 1950, FEMALE),
        ("2", 2050, MALE),
        ("3", 2050, FEMALE),
        ("4", 2150, MALE),
        ("5", 2150, FEMALE),
        ("6", 2250, MALE),
        ("7", 2250, FEMALE),
        ("8", 2350, MALE),
        ("9", 2350, FEMALE),
    ],
)
def test_century_sex_digit_table(g: str, year: int, sex: str) -> None:
    dob = date(year, 6, 1)
    assert century_sex_digit(dob, sex) == int(g)
    assert pin_issues(f"001{g}50000001", date_of_birth=dob, sex=sex) == []


@pytest.mark.parametrize("pin", ["00120500012", "0012050001234", "1", "0" * 24])
def test_wrong_length_is_pin_length_only(pin: str) -> None:
    assert rules(pin, date_of_birth=DOB, sex=MALE) == ["pin.length"]


def test_empty_pin_is_a_length_problem() -> None:
    assert rules("") == ["pin.length"]


@pytest.mark.parametrize(
    "pin",
    [
        "00120500012A",
        "001 05000123",
        "00120500012-",
        "００１２０５０００１２３",  # fullwidth digits: isdigit() but not ASCII
        "00120500012\u0663",  # Arabic-Indic digit three
        "00120500012²",  # superscript two
    ],
)
def test_non_ascii_digits_are_refused(pin: str) -> None:
    assert "pin.digits" in rules(pin)


def test_letters_and_wrong_length_report_both() -> None:
    assert rules("ABC") == ["pin.digits", "pin.length"]


@pytest.mark.parametrize("code", ["000", "003", "005", "097", "099", "100", "296", "999"])
def test_unknown_place_codes(code: str) -> None:
    assert not is_pin_place_code(code)
    assert rules(f"{code}205000123", date_of_birth=DOB, sex=MALE) == ["pin.place_code"]


def test_place_code_table() -> None:
    assert len(PIN_PROVINCE_CODES) == 63
    assert all(is_pin_place_code(code) for code in PIN_PROVINCE_CODES)
    assert is_pin_place_code("101")
    assert is_pin_place_code("295")
    assert len(PIN_PLACE_CODES) == 63 + (295 - 101 + 1)


def test_dob_and_sex_rules_only_when_given() -> None:
    pin = "001005000123"  # 1900s male, year ..05
    assert pin_issues(pin) == []
    assert rules(pin, date_of_birth=DOB) == ["pin.century_sex"]
    assert rules(pin, sex=FEMALE) == ["pin.sex_digit"]
    assert rules(pin, date_of_birth=date(1905, 1, 1), sex=MALE) == []


def test_all_dob_rules_together() -> None:
    # 1900s female, year ..99, against a 2005 male.
    assert rules("003199000123", date_of_birth=DOB, sex=MALE) == [
        "pin.place_code",
        "pin.century_sex",
        "pin.birth_year",
        "pin.sex_digit",
    ]


def test_birth_year_outside_pin_range_contradicts_every_digit() -> None:
    assert rules("001099000123", date_of_birth=date(1899, 12, 31)) == ["pin.century_sex"]
    assert rules("009900000123", date_of_birth=date(2400, 1, 1)) == [
        "pin.place_code",
        "pin.century_sex",
    ]


def test_unknown_sex_value_is_not_checked_here() -> None:
    assert pin_issues("001205000123", sex="UNKNOWN") == []


def test_field_is_the_given_path() -> None:
    (issue,) = pin_issues("0012050001", field="payload.child.pin")
    assert (issue.field, issue.rule) == ("payload.child.pin", "pin.length")


def test_make_pin_layout() -> None:
    assert make_pin("001", DOB, FEMALE, 123) == "001305000123"
    assert make_pin("295", date(1999, 1, 1), MALE, 999_999) == "295099999999"
    assert make_pin("046", date(2300, 1, 1), FEMALE, 0) == "046900000000"


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (("003", DOB, MALE, 1), "place_code"),
        (("1", DOB, MALE, 1), "place_code"),
        (("001", date(1899, 12, 31), MALE, 1), "date_of_birth"),
        (("001", date(2400, 1, 1), MALE, 1), "date_of_birth"),
        (("001", DOB, "OTHER", 1), "sex"),
        (("001", DOB, MALE, -1), "serial"),
        (("001", DOB, MALE, 1_000_000), "serial"),
        (("001", DOB, MALE, True), "serial"),
    ],
)
def test_make_pin_refuses_bad_input_without_values(args: tuple[object, ...], param: str) -> None:
    with pytest.raises(ValueError, match=rf"^{param}: ") as caught:
        make_pin(*args)  # type: ignore[arg-type]
    text = f"{caught.value} {caught.value!r}"
    assert "1899-12-31" not in text
    assert "2400-01-01" not in text
    assert "OTHER" not in text
    assert "1000000" not in text


@given(
    dob=st.dates(min_value=date(1900, 1, 1), max_value=date(2399, 12, 31)),
    sex=st.sampled_from(SEX_VALUES),
    place=st.sampled_from(sorted(PIN_PLACE_CODES)),
    serial=st.integers(min_value=0, max_value=999_999),
)
def test_make_pin_always_valid(dob: date, sex: str, place: str, serial: int) -> None:
    pin = make_pin(place, dob, sex, serial)
    assert len(pin) == 12
    assert pin_issues(pin, date_of_birth=dob, sex=sex) == []
    other = FEMALE if sex == MALE else MALE
    assert rules(pin, date_of_birth=dob, sex=other) == ["pin.sex_digit"]
