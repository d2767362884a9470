"""What each event type does to the citizen record: the fields it sets, to which values.

Values are in the Citizen's JSON form. Most fields hold one value (the newest fact wins);
`children` and `pin_history` collect one element per fact. A birth also adds the child to each
registered parent's `children` (a change to another citizen, made by the same event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.models.envelope import Event

MULTI_VALUED = frozenset({"children", "pin_history"})
"""Fields whose value is the list of all their active facts, oldest first."""

DEFAULTS: dict[str, Any] = {
    "pin_history": [],
    "other_names": [],
    "nationalities": [],
    "children": [],
    "marital_status": "SINGLE",
}
"""Value of a field no active fact sets (None for the others)."""

_DISSOLVED = {"DIVORCE": "DIVORCED", "SPOUSE_DECEASED": "WIDOWED", "ANNULMENT": "SINGLE"}
_BIRTH_FIELDS = (
    "date_of_birth",
    "sex",
    "place_of_birth",
    "place_of_birth_registration",
    "hometown",
    "ethnicity",
    "nationalities",
    "father",
    "mother",
)


@dataclass(frozen=True)
class FieldChange:
    """One field of one citizen set by an event."""

    pin: str
    field: str
    value: Any


def field_changes(event: Event) -> list[FieldChange]:
    """The fields `event` sets (on its subject, and on others for births)."""
    pin = event.subject_pin or ""
    payload = event.payload.model_dump(mode="json")
    kind = event.event_type
    values: dict[str, Any] = {}
    extra: list[FieldChange] = []
    if kind == "BirthRegistered":
        name = payload["name"]
        values = {
            "family_name": name["family_name"],
            "middle_name": name["middle_name"],
            "given_name": name["given_name"],
            **{k: payload[k] for k in _BIRTH_FIELDS},
        }
        child = {"pin": pin, "name": name}
        extra = [
            FieldChange(parent["pin"], "children", child)
            for parent in (payload["father"], payload["mother"])
            if parent is not None and parent["pin"] is not None
        ]
    elif kind == "DeathRegistered":
        values = {"date_of_death": payload["date_of_death"]}
    elif kind == "MarriageRegistered":
        values = {"spouse": payload["spouse"], "marital_status": "MARRIED"}
    elif kind == "MarriageDissolved":
        values = {"spouse": None, "marital_status": _DISSOLVED[payload["reason"]]}
    elif kind == "CivilStatusChanged":
        if payload["name"] is not None:
            values.update(payload["name"])
        values.update(
            {k: payload[k] for k in ("sex", "ethnicity", "nationalities") if payload[k] is not None}
        )
    elif kind == "PermanentResidenceRegistered":
        values = {
            "permanent_residence": payload["address"],
            "household_id": payload["household_id"],
            "relation_to_head": payload["relation_to_head"],
        }
    elif kind == "TemporaryResidenceRegistered":
        values = {"temporary_residence": payload["address"]}
    elif kind == "ResidenceDeregistered":
        values = (
            {"permanent_residence": None, "household_id": None, "relation_to_head": None}
            if payload["residence_kind"] == "PERMANENT"
            else {"temporary_residence": None}
        )
    elif kind == "Emigrated":
        values = {
            "permanent_residence": None,
            "temporary_residence": None,
            "current_residence": None,
        }
    elif kind == "IdentityCardIssued":
        values = {"identity_card": payload["card"]}
    elif kind == "PinReestablished":
        values = {
            "pin_history": {
                "pin": payload["old_pin"],
                "replaced_on": payload["effective_on"],
                "reason": payload["reason"],
            }
        }
    # PinIssued confirms the subject's PIN (the record is keyed by it); reference events set no
    # citizen field.
    return [FieldChange(pin, f, v) for f, v in values.items()] + extra


def fields_of(event: Event) -> set[str]:
    """Names of the fields an event sets (for the authority check)."""
    return {change.field for change in field_changes(event)}
