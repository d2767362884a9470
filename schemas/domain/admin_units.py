"""Administrative-unit codes of an address, checked against its scheme (DESIGN.md §4).

An address names its scheme: ``VN-63`` (before 1 July 2025: province 2 digits, district 3 digits,
commune 5 digits) or ``VN-34`` (since then: province 2 digits and commune 5 digits; there is no
district level any more).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Final

from schemas.domain.issues import Issue
from schemas.domain.places import (
    SCHEME_CUTOVER,
    SCHEME_VN34,
    SCHEME_VN63,
    VN34_PROVINCES,
    VN63_PROVINCES,
)

DISTRICT_CODE_LENGTH: Final = 3
COMMUNE_CODE_LENGTH: Final = 5

_SCHEME_PROVINCES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {SCHEME_VN63: frozenset(VN63_PROVINCES), SCHEME_VN34: frozenset(VN34_PROVINCES)}
)

# Messages are constants: they never contain the codes that were checked.
_MSG_SCHEME: Final = "the administrative-unit scheme is unknown; it must be VN-63 or VN-34"
_MSG_PROVINCE: Final = "the province code is not a province of the address's scheme"
_MSG_DISTRICT_VN34: Final = "a VN-34 address has no district: that level was abolished"
_MSG_DISTRICT_FORMAT: Final = "the district code must be 3 digits"
_MSG_COMMUNE_FORMAT: Final = "the commune code must be 5 digits"
_MSG_SCHEME_DATE_VN63: Final = "the VN-63 scheme is no longer in force from 1 July 2025"
_MSG_SCHEME_DATE_VN34: Final = "the VN-34 scheme is only in force from 1 July 2025"


def _is_code(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def admin_unit_issues(
    scheme: str,
    province: str,
    district: str | None,
    commune: str | None,
    field: str,
    *,
    as_of: date | None = None,
) -> list[Issue]:
    """Problems of an address's administrative units; an empty list if there are none.

    ``field`` is the address's dotted path; issues name ``<field>.scheme``, ``<field>.province``,
    ``<field>.district`` or ``<field>.commune``. Rules: ``admin.scheme``, ``admin.province``,
    ``admin.district`` (present in VN-34, or not 3 digits), ``admin.commune`` (not 5 digits)
    and, when ``as_of`` is given, ``admin.scheme_date`` (the scheme was not in force that day).
    ``None`` means absent; an empty string is a bad code. Messages never contain the codes.
    """
    provinces = _SCHEME_PROVINCES.get(scheme)
    if (
        provinces is not None
        and province in provinces
        and (
            district is None or (scheme == SCHEME_VN63 and _is_code(district, DISTRICT_CODE_LENGTH))
        )
        and (commune is None or _is_code(commune, COMMUNE_CODE_LENGTH))
        and (as_of is None or (as_of >= SCHEME_CUTOVER) == (scheme == SCHEME_VN34))
    ):
        return []
    issues: list[Issue] = []
    if provinces is None:
        issues.append(Issue(f"{field}.scheme", "admin.scheme", _MSG_SCHEME))
    else:
        if province not in provinces:
            issues.append(Issue(f"{field}.province", "admin.province", _MSG_PROVINCE))
        if as_of is not None:
            if scheme == SCHEME_VN63 and as_of >= SCHEME_CUTOVER:
                issues.append(Issue(f"{field}.scheme", "admin.scheme_date", _MSG_SCHEME_DATE_VN63))
            elif scheme == SCHEME_VN34 and as_of < SCHEME_CUTOVER:
                issues.append(Issue(f"{field}.scheme", "admin.scheme_date", _MSG_SCHEME_DATE_VN34))
    if district is not None:
        if scheme == SCHEME_VN34:
            issues.append(Issue(f"{field}.district", "admin.district", _MSG_DISTRICT_VN34))
        elif not _is_code(district, DISTRICT_CODE_LENGTH):
            issues.append(Issue(f"{field}.district", "admin.district", _MSG_DISTRICT_FORMAT))
    if commune is not None and not _is_code(commune, COMMUNE_CODE_LENGTH):
        issues.append(Issue(f"{field}.commune", "admin.commune", _MSG_COMMUNE_FORMAT))
    return issues
