"""Domain validation of the data contracts: pure functions, standard library only.

Each ``*_issues`` function returns the problems of one value as `Issue` objects (field, rule id,
message) and an empty list when there are none; `raise_for_issues` / `ContractError` turn them
into one error. `RULES` lists every rule id with its kind: ``schema`` rules are checked here, at
the edge, on the record alone; ``processing`` rules are checked later by the stream processors
against the population database. No message ever contains the value that was checked.
"""

from __future__ import annotations

from schemas.domain.admin_units import admin_unit_issues
from schemas.domain.dates import VIETNAM, date_issues, local_date, timestamp_issues
from schemas.domain.issues import (
    MODEL_RULES,
    RULES,
    ContractError,
    Issue,
    RuleInfo,
    RuleKind,
    raise_for_issues,
)
from schemas.domain.names import NAME_MAX_LENGTH, name_issues, normalize_name
from schemas.domain.pin import (
    FEMALE,
    MALE,
    SEX_VALUES,
    century_sex_digit,
    make_pin,
    pin_issues,
)
from schemas.domain.places import (
    PIN_PLACE_CODES,
    PIN_PROVINCE_CODES,
    SCHEME_CUTOVER,
    SCHEME_VN34,
    SCHEME_VN63,
    SCHEMES,
    VN34_PROVINCES,
    VN63_PROVINCES,
    VN63_TO_VN34,
    is_pin_place_code,
    scheme_for,
)

__all__ = [
    "FEMALE",
    "MALE",
    "MODEL_RULES",
    "NAME_MAX_LENGTH",
    "PIN_PLACE_CODES",
    "PIN_PROVINCE_CODES",
    "RULES",
    "SCHEMES",
    "SCHEME_CUTOVER",
    "SCHEME_VN34",
    "SCHEME_VN63",
    "SEX_VALUES",
    "VIETNAM",
    "VN34_PROVINCES",
    "VN63_PROVINCES",
    "VN63_TO_VN34",
    "ContractError",
    "Issue",
    "RuleInfo",
    "RuleKind",
    "admin_unit_issues",
    "century_sex_digit",
    "date_issues",
    "is_pin_place_code",
    "local_date",
    "make_pin",
    "name_issues",
    "normalize_name",
    "pin_issues",
    "raise_for_issues",
    "scheme_for",
    "timestamp_issues",
]
