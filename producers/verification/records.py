"""A sector's record (a flat dict: a CSV row or a JSON line) as a VerificationRequest.

Keys: `record_id` and `pin` (required), `request_id` (optional), and the claimed fields
`family_name`, `middle_name`, `given_name`, `date_of_birth`, `sex`, `identity_card_number`
(optional; empty means not claimed). The claims are sent as the sector holds them: the verifier
checks them and answers INVALID with the field and the rule. What this module refuses is what
cannot be a request at all: a missing record id or PIN, an unknown key, a request id that is not
a UUID, a value that is not text.

Without a `request_id`, the id is derived from (sector, campaign, record id): submitting the same
campaign again repeats the same requests, which the verifier answers once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from schemas.domain import Issue
from schemas.models.downstream import VerificationClaims, VerificationRequest

CAMPAIGN_NAMESPACE: Final = uuid.UUID("2b4f3c0e-8d7a-5e61-b0c3-9a1d4e6f7a13")
CLAIMS: Final = tuple(VerificationClaims.model_fields)
KEYS: Final = frozenset({"request_id", "record_id", "pin", *CLAIMS})


def request_id_for(sector: str, campaign: str, record_id: str) -> uuid.UUID:
    """The request id of `record_id` in `campaign` of `sector` (stable across submissions)."""
    return uuid.uuid5(CAMPAIGN_NAMESPACE, f"{sector}/{campaign}/{record_id}")


def _text(data: dict[str, Any], key: str, issues: list[Issue]) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        issues.append(Issue(key, "request.not_text", "the value must be text"))
        return None
    return str(value)


def request_from_data(
    sector: str, data: dict[str, Any], campaign: str, *, now: datetime | None = None
) -> VerificationRequest | tuple[Issue, ...]:
    """The request of one record, or the issues that make it no request at all."""
    flat = dict(data)
    nested = flat.pop("claims", None)
    if isinstance(nested, dict):
        flat.update(nested)
    issues = [
        Issue(str(key), "request.unknown_field", "not a field of a verification request")
        for key in flat
        if key not in KEYS
    ]
    record_id = _text(flat, "record_id", issues)
    pin = _text(flat, "pin", issues)
    if record_id is None:
        issues.append(Issue("record_id", "request.required", "the sector's record id is required"))
    if pin is None:
        issues.append(Issue("pin", "request.required", "the PIN is required"))
    claims = {name: _text(flat, name, issues) for name in CLAIMS}
    raw_id = _text(flat, "request_id", issues)
    request_id: uuid.UUID | None = None
    if raw_id is not None:
        try:
            request_id = uuid.UUID(raw_id)
        except ValueError:
            issues.append(Issue("request_id", "request.uuid", "the request id is not a UUID"))
    if issues or record_id is None or pin is None:
        return tuple(issues)
    return VerificationRequest(
        request_id=request_id or request_id_for(sector, campaign, record_id),
        sector=sector,
        record_id=record_id,
        pin=pin,
        claims=VerificationClaims(**claims),
        requested_at=now or datetime.now(UTC),
    )
