"""A request's claims checked like data at the publishing edge, and against the sector's rights.

`check_claims` returns the claims that can be compared (field -> text) and the problems: a
malformed claim (the field and the domain rule it breaks, as `schemas.domain` names it: INVALID)
or a field the sector may not verify (`verification.field_not_allowed`: REFUSED). Messages never
hold the checked value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Final

from databus.topology.model import Sector
from schemas.domain import SEX_VALUES, Issue, date_issues, name_issues, pin_issues
from schemas.models.downstream import VerificationRequest

NAME_CLAIMS: Final = ("family_name", "middle_name", "given_name")
CLAIM_FIELDS: Final = (*NAME_CLAIMS, "date_of_birth", "sex", "identity_card_number")
TOPOLOGY_FIELD: Final = {"identity_card_number": "identity_card"}
"""Claim field -> the citizen field the topology's `verification.fields` names."""

CARD_DIGITS: Final = (9, 12)
REFUSAL_RULES: Final = frozenset(
    {"verification.field_not_allowed", "verification.not_enabled", "verification.sector_mismatch"}
)


@dataclass(frozen=True, slots=True)
class CheckedClaims:
    """The claims that can be compared, and every problem found (empty: all is well)."""

    values: dict[str, str]
    invalid: list[Issue]
    refused: list[Issue]


def topology_field(claim: str) -> str:
    """The citizen field a claim field is checked against in the topology."""
    return TOPOLOGY_FIELD.get(claim, claim)


def check_claims(request: VerificationRequest, sector_name: str, sector: Sector) -> CheckedClaims:
    """Check a request for `sector_name` (the sector whose topic it came on)."""
    refused: list[Issue] = []
    if request.sector != sector_name:
        refused.append(
            Issue(
                "sector",
                "verification.sector_mismatch",
                f"the request names another sector than the one whose topic carries it "
                f"({sector_name})",
            )
        )
    if not sector.verification.enabled:
        refused.append(
            Issue(
                "sector",
                "verification.not_enabled",
                f"sector {sector_name} has no verification rights in the topology",
            )
        )
    allowed = set(sector.verification.fields)
    claims = request.claims.model_dump()
    given = {name: claims[name] for name in CLAIM_FIELDS if claims[name] is not None}
    for name in given:
        if topology_field(name) not in allowed:
            refused.append(
                Issue(
                    name,
                    "verification.field_not_allowed",
                    f"sector {sector_name} may not verify {topology_field(name)} "
                    "(topology verification.fields)",
                )
            )
    invalid = pin_issues(request.pin.strip(), field="pin")
    values: dict[str, str] = {}
    for name, value in given.items():
        problems = _claim_issues(name, value)
        if problems:
            invalid.extend(problems)
        else:
            values[name] = _comparable(name, value)
    return CheckedClaims(values, invalid, refused)


def _comparable(name: str, value: str) -> str:
    """The claim in the form it is compared in (names: as given, matching folds them)."""
    if name in NAME_CLAIMS:
        return value
    if name == "date_of_birth":
        return date.fromisoformat(value.strip()).isoformat()
    return value.strip()


@lru_cache(maxsize=65_536)
def _name_issues(value: str, name: str) -> tuple[Issue, ...]:
    """Names repeat a lot across a subscriber base: each distinct one is checked once."""
    return tuple(name_issues(value, name, required=name != "middle_name"))


def _claim_issues(name: str, value: str) -> list[Issue]:
    if name in NAME_CLAIMS:
        return list(_name_issues(value, name))
    if name == "date_of_birth":
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            return [Issue(name, "date.format", "the date is not a calendar date YYYY-MM-DD")]
        return date_issues(day, name)
    if name == "sex":
        if value.strip() not in SEX_VALUES:
            return [Issue(name, "sex.value", "the sex must be MALE or FEMALE")]
        return []
    number = value.strip()
    if not (number.isascii() and number.isdigit() and len(number) in CARD_DIGITS):
        return [Issue(name, "identity_card.number", "a card number has 9 or 12 digits")]
    return []
