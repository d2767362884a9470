"""Validated field types: each runs one domain rule of `schemas.domain` at the edge.

A failed rule raises a pydantic error whose type is the rule id (e.g. `pin.place_code`) and whose
message names the rule, never the value; `schemas.errors.contract_error` turns it into a
`ContractError` with the field path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    StringConstraints,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from schemas.domain import (
    Issue,
    date_issues,
    name_issues,
    normalize_name,
    pin_issues,
    timestamp_issues,
)

TRUSTED: dict[str, bool] = {"trusted": True}
"""Validation context for data that passed these rules before (`Model.model_validate(data,
context=TRUSTED)`): the domain rules are not run again, types and structure still are. The
population database rebuilds citizens from facts of events validated when they were decoded."""


def trusted(info: ValidationInfo) -> bool:
    """Whether the data under validation is `TRUSTED` (domain rules already held)."""
    context = info.context
    return context is not None and context.get("trusted") is True


def raise_first(issues: Sequence[Issue], *, at_subfield: bool = False) -> None:
    """Raise the first issue as a pydantic error (type = rule id, message without values).

    `at_subfield` is for model-level checks: the issue's field is then appended to the path.
    """
    if issues:
        issue = issues[0]
        context = {"at": issue.field} if at_subfield else None
        raise PydanticCustomError(issue.rule, issue.message, context)


def _pin(value: str, info: ValidationInfo) -> str:
    if not trusted(info):
        raise_first(pin_issues(value))
    return value


_VALID_NAMES: dict[str, str] = {}
"""Raw name part → its normalised form, for parts already checked valid. Names repeat a lot (a
few thousand family, middle and given names cover most citizens), so most checks are a lookup."""
_VALID_NAMES_MAX = 100_000


def _name(value: object, info: ValidationInfo) -> object:
    """Normalise (NFC, collapsed whitespace) and check a name in one call; non-str passes on."""
    if not isinstance(value, str):
        return value
    known = _VALID_NAMES.get(value)
    if known is not None:
        return known
    if trusted(info):  # normalised and checked when it first came in
        return value
    normalized = normalize_name(value)
    raise_first(name_issues(normalized, "name"))
    if len(_VALID_NAMES) < _VALID_NAMES_MAX:
        _VALID_NAMES[value] = normalized
    return normalized


def _past_date(value: date, info: ValidationInfo) -> date:
    if not trusted(info):
        raise_first(date_issues(value, "date"))
    return value


def _timestamp(value: datetime, info: ValidationInfo) -> datetime:
    if not trusted(info):
        raise_first(timestamp_issues(value, "timestamp"))
    return value


Pin = Annotated[str, AfterValidator(_pin)]
"""A 12-digit personal identification number with a known place code."""

Name = Annotated[str, BeforeValidator(_name)]
"""A name part: Unicode NFC, whitespace collapsed, letters and a few separators only."""

PastDate = Annotated[date, AfterValidator(_past_date)]
"""A calendar date not in the future and not before 1900."""

Timestamp = Annotated[AwareDatetime, AfterValidator(_timestamp)]
"""A timezone-aware instant, not in the future (5 min skew allowed) and not before 1900."""

AgencyId = Annotated[str, StringConstraints(pattern=r"^VN/[A-Z]+/[A-Za-z0-9]+/[a-z0-9-]+$")]
"""An X-Road style member/subsystem id, e.g. `VN/GOV/BTP/hotich`."""

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2 country code, e.g. `VN`."""

DocumentNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9/.-]+$")
]
"""A certificate or register number (no spaces)."""
