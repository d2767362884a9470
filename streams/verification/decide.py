"""The answer to one request, from its checked claims and what the NPD holds for its PIN.

Pure: no I/O. Order of precedence: REFUSED (the sector may not ask this), INVALID (a malformed
claim), NOT_FOUND, PIN_REPLACED (the PIN was re-established; the new one is never told),
then per-field verdicts: DECEASED if the citizen died (verdicts still given), MISMATCHED if
one field differs, PARTIAL if only diacritics differ, MATCHED otherwise. Verdicts are computed
only against a current citizen; otherwise every claimed field is NOT_CHECKED. Nothing of the
Subject goes into the result but the verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from databus.population.lookup import Subject
from schemas.domain import Issue
from schemas.models.downstream import (
    ClaimProblem,
    FieldVerdict,
    VerificationRequest,
    VerificationResult,
    VerificationStatus,
)
from streams.verification.claims import CLAIM_FIELDS, NAME_CLAIMS, CheckedClaims
from streams.verification.matching import compare_exact, compare_name


def claimed_fields(request: VerificationRequest) -> list[str]:
    """The claim fields the request carries a value for, in contract order."""
    claims = request.claims
    return [name for name in CLAIM_FIELDS if getattr(claims, name) is not None]


def verdicts_for(checked: CheckedClaims, subject: Subject) -> dict[str, FieldVerdict]:
    """Per claimed field, MATCH / MATCH_IGNORING_DIACRITICS / MISMATCH against `subject`."""
    out: dict[str, FieldVerdict] = {}
    for name, claimed in checked.values.items():
        actual = subject.value(name)
        if name in NAME_CLAIMS:
            out[name] = compare_name(claimed, actual)
        else:
            out[name] = compare_exact(claimed, actual)
    return out


def overall(verdicts: Iterable[FieldVerdict], deceased: bool) -> VerificationStatus:
    """The overall status of a current citizen's verdicts."""
    if deceased:
        return VerificationStatus.DECEASED
    seen = set(verdicts)
    if FieldVerdict.MISMATCH in seen:
        return VerificationStatus.MISMATCHED
    if FieldVerdict.MATCH_IGNORING_DIACRITICS in seen:
        return VerificationStatus.PARTIAL
    return VerificationStatus.MATCHED


def answer(
    request: VerificationRequest,
    sector_name: str,
    checked: CheckedClaims,
    subject: Subject | None,
    now: datetime,
) -> VerificationResult:
    """The VerificationResult of `request` (see the module docstring for precedence)."""
    claimed = claimed_fields(request)
    unchecked = dict.fromkeys(claimed, FieldVerdict.NOT_CHECKED)
    problems: list[Issue] = []
    verdicts = unchecked
    if checked.refused:
        status, problems = VerificationStatus.REFUSED, checked.refused
    elif checked.invalid:
        status, problems = VerificationStatus.INVALID, checked.invalid
    elif subject is None:
        status = VerificationStatus.NOT_FOUND
    elif subject.replaced:
        status = VerificationStatus.PIN_REPLACED
    else:
        verdicts = verdicts_for(checked, subject)
        status = overall(verdicts.values(), subject.deceased)
    # Built from values that are already typed and checked: not validated a second time.
    return VerificationResult.model_construct(
        request_id=request.request_id,
        sector=sector_name,
        record_id=request.record_id,
        pin=request.pin,
        status=status,
        verdicts=verdicts,
        problems=[
            ClaimProblem.model_construct(claim=i.field, rule=i.rule, message=i.message)
            for i in problems
        ],
        answered_at=now,
    )


def looks_up(checked: CheckedClaims) -> bool:
    """Whether the request needs the NPD at all (refused and invalid ones do not)."""
    return not checked.refused and not checked.invalid
