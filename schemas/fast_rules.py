"""The model-level rules of the contracts, for the compiled checker (`schemas/_fast_check.pyx`).

Each model validator of `schemas.models` has here a hook that decides the same thing on the
event's plain data: `hook(record, parsed) -> bool`, True when the rule holds. `record` is the
dict of the model the validator belongs to (already checked field by field), `parsed` the dates
and timestamps of the whole event by dotted path (`"occurred_at"`, `"payload.date_of_birth"`).
Hooks call the same domain functions the validators call; a property test
(`tests/test_fast_events.py`) holds the two paths together. A validator without a hook here
makes its model take the pydantic path: `model_hook` raises `LookupError` for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import BaseModel

from schemas.domain import admin_unit_issues, local_date, pin_issues
from schemas.models.envelope import envelope_error

Hook = Callable[[dict[str, Any], dict[str, Any]], bool]


def _unit_holds(unit: dict[str, Any], as_of: date | None = None) -> bool:
    return not admin_unit_issues(
        unit["scheme"],
        unit["province_code"],
        unit.get("district_code"),
        unit.get("commune_code"),
        "unit",
        as_of=as_of,
    )


def _subject_pin_holds(event: dict[str, Any], parsed: dict[str, Any]) -> bool:
    payload = event["payload"]
    return not pin_issues(
        event["subject_pin"],
        date_of_birth=parsed["payload.date_of_birth"],
        sex=payload["sex"],
    )


def _envelope(event: dict[str, Any], parsed: dict[str, Any]) -> bool:
    return (
        envelope_error(
            event.get("change_type", "CREATED"),
            event.get("corrects_event_id"),
            parsed["occurred_at"],
            parsed["recorded_at"],
        )
        is None
    )


def _unit(unit: dict[str, Any], parsed: dict[str, Any]) -> bool:
    return _unit_holds(unit)


def _birth(event: dict[str, Any], parsed: dict[str, Any]) -> bool:
    unit = event["payload"]["place_of_birth_registration"]
    return _unit_holds(unit, local_date(parsed["occurred_at"])) and _subject_pin_holds(
        event, parsed
    )


def _residence(payload: dict[str, Any], parsed: dict[str, Any]) -> bool:
    return _unit_holds(payload["address"]["unit"], parsed["payload.registered_on"])


def _changes_something(payload: dict[str, Any], parsed: dict[str, Any]) -> bool:
    return any(payload.get(k) is not None for k in ("name", "sex", "ethnicity", "nationalities"))


def _reestablished(event: dict[str, Any], parsed: dict[str, Any]) -> bool:
    return event["payload"]["old_pin"] != event["subject_pin"] and _subject_pin_holds(event, parsed)


HOOKS: dict[str, Hook] = {
    "schemas.models.envelope.Event._envelope_rules": _envelope,
    "schemas.models.common.AdministrativeUnit._codes_fit_scheme": _unit,
    "schemas.models.civil_status.BirthRegisteredEvent._pin_matches_child": _birth,
    "schemas.models.civil_status.CivilStatusChanged._changes_something": _changes_something,
    "schemas.models.residence.PermanentResidenceRegistered._scheme_in_force": _residence,
    "schemas.models.residence.TemporaryResidenceRegistered._scheme_in_force": _residence,
    "schemas.models.identity.PinIssuedEvent._pin_matches_holder": _subject_pin_holds,
    "schemas.models.identity.PinReestablishedEvent._new_pin_is_consistent": _reestablished,
}
"""Hook of each model validator, by the validator's module and qualified name."""


def model_hook(model: type[BaseModel]) -> Hook | None:
    """One hook running every model validator of `model` (None if it has none); LookupError
    for a validator without a hook, or for validators of another kind than model `after`."""
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.validators or decorators.root_validators:
        raise LookupError(f"{model.__name__} has field validators")
    hooks: list[Hook] = []
    for decorator in decorators.model_validators.values():
        func = decorator.func
        key = f"{func.__module__}.{func.__qualname__}"
        if decorator.info.mode != "after" or key not in HOOKS:
            raise LookupError(f"no fast hook for {key}")
        hooks.append(HOOKS[key])
    if not hooks:
        return None
    if len(hooks) == 1:
        return hooks[0]
    if len(hooks) == 2:  # an event's envelope rule and its own
        first, second = hooks
        return lambda record, parsed: first(record, parsed) and second(record, parsed)
    return lambda record, parsed: all(hook(record, parsed) for hook in hooks)
