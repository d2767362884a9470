"""The data-usage record of a verification: which sector checked which citizen, when, which
fields, under which legal basis, and the answer. No value is in it either."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache

from databus.population.lookup import Subject
from databus.projection import USAGE_NAMESPACE
from databus.topology.model import Sector
from schemas.models.downstream import (
    DataUsage,
    UsagePurpose,
    VerificationResult,
    VerificationStatus,
)
from streams.verification.claims import topology_field

CONSULTED = frozenset(
    {
        VerificationStatus.MATCHED,
        VerificationStatus.PARTIAL,
        VerificationStatus.MISMATCHED,
        VerificationStatus.DECEASED,
    }
)
"""Statuses for which a citizen's record was compared (the others consult no citizen's data:
an unknown, re-established or malformed PIN, or a refused request)."""


def verification_usage_id(sector: str, request_id: str) -> uuid.UUID:
    """The usage id of answering `request_id` of `sector`: a repeat records nothing new."""
    return uuid.uuid5(USAGE_NAMESPACE, f"verification/{sector}/{request_id}")


@lru_cache(maxsize=64)
def _legal_basis(sector: Sector) -> list[str]:
    return [str(basis) for basis in sector.legal_basis]


def verification_usage(
    name: str, sector: Sector, result: VerificationResult, subject: Subject, now: datetime
) -> DataUsage | None:
    """The usage record of one answer, or None when no citizen's record was compared."""
    if result.status not in CONSULTED:
        return None
    fields = ["pin", *sorted({topology_field(f) for f in result.verdicts})]
    return DataUsage.model_construct(  # typed values from the topology and the result
        usage_id=verification_usage_id(name, str(result.request_id)),
        pin=result.pin.strip(),
        sector=name,
        agency=sector.agency,
        fields_released=fields,
        legal_basis=_legal_basis(sector),
        citizen_version=subject.version,
        event_id=None,
        released_at=now,
        purpose=UsagePurpose.VERIFICATION,
        outcome=result.status.value,
    )
