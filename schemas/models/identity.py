"""Identity events (Ministry of Public Security, định danh): PINs and identity cards."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from schemas.models.base import NAMESPACE_ROOT, Contract, Sex, field
from schemas.models.common import IdentityCard
from schemas.models.envelope import Event
from schemas.models.types import PastDate, Pin

NS = f"{NAMESPACE_ROOT}.identity"


class PinIssued(Contract):
    """A PIN was issued; date of birth and sex let the edge check the PIN's digits."""

    avro_namespace = NS
    date_of_birth: PastDate = field("Date of birth of the holder.", "personal")
    sex: Sex = field("Sex of the holder.", "personal")
    issued_on: PastDate = field("Date of issue.")


class ReestablishReason(StrEnum):
    """Why a PIN was re-established (xác lập lại số định danh cá nhân)."""

    GENDER_REDETERMINATION = "GENDER_REDETERMINATION"
    BIRTH_DATA_CORRECTION = "BIRTH_DATA_CORRECTION"
    ISSUANCE_ERROR = "ISSUANCE_ERROR"


class PinReestablished(Contract):
    """A new PIN (the subject) replaced an old one; later events for the old PIN follow it."""

    avro_namespace = NS
    old_pin: Pin = field("The PIN being replaced.", "identifier")
    reason: ReestablishReason = field("Why the PIN was re-established.", "personal")
    date_of_birth: PastDate = field("Date of birth behind the new PIN.", "personal")
    sex: Sex = field("Sex behind the new PIN.", "personal")
    effective_on: PastDate = field("Date the new PIN took effect.")


class IdentityCardIssued(Contract):
    """An identity card was issued or renewed."""

    avro_namespace = NS
    card: IdentityCard = field("The card.", "identifier")


class IdentityEvent(Event):
    """Base of the events on `identity.events.v1`."""

    domain: ClassVar[str] = "identity"
    avro_namespace = NS


class PinIssuedEvent(IdentityEvent):
    """Envelope + PinIssued; the subject PIN must agree with birth date and sex."""

    event_type: Literal["PinIssued"] = "PinIssued"
    payload: PinIssued

    @model_validator(mode="after")
    def _pin_matches_holder(self) -> PinIssuedEvent:
        self.check_subject_pin(self.payload.date_of_birth, self.payload.sex.value)
        return self


class PinReestablishedEvent(IdentityEvent):
    """Envelope + PinReestablished; the new PIN is the subject."""

    event_type: Literal["PinReestablished"] = "PinReestablished"
    payload: PinReestablished

    @model_validator(mode="after")
    def _new_pin_is_consistent(self) -> PinReestablishedEvent:
        if self.payload.old_pin == self.subject_pin:
            raise PydanticCustomError(
                "pin.reestablished_same",
                "the new PIN equals the PIN it replaces",
                {"at": "payload.old_pin"},
            )
        self.check_subject_pin(self.payload.date_of_birth, self.payload.sex.value)
        return self


class IdentityCardIssuedEvent(IdentityEvent):
    """Envelope + IdentityCardIssued."""

    event_type: Literal["IdentityCardIssued"] = "IdentityCardIssued"
    payload: IdentityCardIssued


IDENTITY_EVENTS = (PinIssuedEvent, PinReestablishedEvent, IdentityCardIssuedEvent)
