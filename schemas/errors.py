"""Turn pydantic validation errors into `ContractError`s: field path + rule id, no values."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.domain import ContractError, Issue

GENERIC_PREFIX = "schema."
"""Rule ids of pydantic's own checks (missing field, wrong type ...) are `schema.<type>`."""


def issue_from_pydantic(error: ErrorDetails) -> Issue:
    """One pydantic error as an Issue. The input value is never read."""
    parts = [str(p) for p in error["loc"]]
    context = error.get("ctx") or {}
    at = context.get("at")
    if at:
        parts.append(str(at).lstrip("."))
    rule = error["type"]
    if "." not in rule:
        rule = f"{GENERIC_PREFIX}{rule}"
    return Issue(field=".".join(parts) or "(record)", rule=rule, message=error["msg"])


def contract_error(exc: ValidationError, record: str | None = None) -> ContractError:
    """All problems of a failed validation, as one ContractError naming `record`."""
    return ContractError(
        [issue_from_pydantic(e) for e in exc.errors(include_input=False, include_url=False)],
        record=record,
    )
