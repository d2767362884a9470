"""Personal identification number (PIN, số định danh cá nhân): structural checks (DESIGN.md §4).

A PIN is 12 ASCII digits ``PPP G YY RRRRRR``:

- ``PPP``: where the birth was registered, a province code of
  `schemas.domain.places.PIN_PROVINCE_CODES` or a country code 101-295 for births abroad;
- ``G``: century and sex, 0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s, 6/7 = 2200s,
  8/9 = 2300s (even = male, odd = female);
- ``YY``: the last two digits of the year of birth;
- ``RRRRRR``: six random digits. There is no check digit.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from schemas.domain.issues import Issue
from schemas.domain.places import PIN_PLACE_CODES

MALE: Final = "MALE"
FEMALE: Final = "FEMALE"
SEX_VALUES: Final[tuple[str, str]] = (MALE, FEMALE)
"""The registered sexes a PIN encodes."""

PIN_LENGTH: Final = 12
FIRST_PIN_YEAR: Final = 1900
"""The first year of birth a PIN can encode (G = 0/1)."""
LAST_PIN_YEAR: Final = 2399
"""The last year of birth a PIN can encode (G = 8/9)."""
MAX_SERIAL: Final = 999_999

# Precomputed for the per-event path.
_G_CENTURY: Final[dict[str, int]] = {str(digit): 19 + digit // 2 for digit in range(10)}
_G_FEMALE: Final[frozenset[str]] = frozenset("13579")
_YY: Final[tuple[str, ...]] = tuple(f"{n:02d}" for n in range(100))

# Messages are constants: they never contain the value that was checked.
_MSG_DIGITS: Final = "the PIN must contain only the digits 0-9"
_MSG_LENGTH: Final = "the PIN must have exactly 12 digits"
_MSG_PLACE_CODE: Final = (
    "the first three digits are neither a province code of the PIN table (001-096) nor a "
    "country code (101-295)"
)
_MSG_CENTURY_SEX: Final = (
    "the century/sex digit (the fourth) does not match the date of birth's century"
)
_MSG_SEX_DIGIT: Final = (
    "the century/sex digit (the fourth) does not match the sex: even is male, odd is female"
)
_MSG_BIRTH_YEAR: Final = (
    "the fifth and sixth digits are not the last two digits of the date of birth's year"
)


def pin_issues(
    pin: str,
    *,
    date_of_birth: date | None = None,
    sex: str | None = None,
    field: str = "pin",
) -> list[Issue]:
    """Structural problems of ``pin``; an empty list if there are none.

    Rules: ``pin.digits``, ``pin.length``, ``pin.place_code``, and, when ``date_of_birth`` or
    ``sex`` is given, ``pin.century_sex``, ``pin.birth_year`` and ``pin.sex_digit``. A ``sex``
    other than ``MALE`` or ``FEMALE`` is not checked against the PIN (the sex field's own
    validation refuses it). Messages never contain the PIN, the date or the sex.
    """
    if len(pin) != PIN_LENGTH or not (pin.isascii() and pin.isdigit()):
        issues: list[Issue] = []
        if pin and not (pin.isascii() and pin.isdigit()):
            issues.append(Issue(field, "pin.digits", _MSG_DIGITS))
        if len(pin) != PIN_LENGTH:
            issues.append(Issue(field, "pin.length", _MSG_LENGTH))
        return issues
    issues = []
    if pin[:3] not in PIN_PLACE_CODES:
        issues.append(Issue(field, "pin.place_code", _MSG_PLACE_CODE))
    g = pin[3]
    if date_of_birth is not None:
        year = date_of_birth.year
        if year // 100 != _G_CENTURY[g]:
            issues.append(Issue(field, "pin.century_sex", _MSG_CENTURY_SEX))
        if pin[4:6] != _YY[year % 100]:
            issues.append(Issue(field, "pin.birth_year", _MSG_BIRTH_YEAR))
    if sex is not None and (
        (sex == FEMALE and g not in _G_FEMALE) or (sex == MALE and g in _G_FEMALE)
    ):
        issues.append(Issue(field, "pin.sex_digit", _MSG_SEX_DIGIT))
    return issues


def century_sex_digit(date_of_birth: date, sex: str) -> int:
    """The PIN's century/sex digit ``G`` for a birth date (1900-2399) and sex ("MALE"/"FEMALE").

    Raises ValueError (without the values) for a year outside 1900-2399 or an unknown sex.
    """
    year = date_of_birth.year
    if not FIRST_PIN_YEAR <= year <= LAST_PIN_YEAR:
        raise ValueError("date_of_birth: a PIN encodes years of birth 1900 to 2399 only")
    if sex == MALE:
        female = 0
    elif sex == FEMALE:
        female = 1
    else:
        raise ValueError("sex: must be MALE or FEMALE")
    return (year // 100 - 19) * 2 + female


def make_pin(place_code: str, date_of_birth: date, sex: str, serial: int) -> str:
    """Build a structurally valid PIN, for generators and tests.

    ``place_code`` is a PIN place code (province 001-096 of the table or country 101-295) and
    ``serial`` the six final digits as an integer 0-999999. Raises ValueError (without the
    values) on bad input.
    """
    if not isinstance(place_code, str) or place_code not in PIN_PLACE_CODES:
        raise ValueError(
            "place_code: must be a province code of the PIN table or a country code 101-295"
        )
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= MAX_SERIAL:
        raise ValueError("serial: must be an integer from 0 to 999999")
    g = century_sex_digit(date_of_birth, sex)
    return f"{place_code}{g}{_YY[date_of_birth.year % 100]}{serial:06d}"
