"""Civil status events (Ministry of Justice, hộ tịch): births, deaths, marriages, changes."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from schemas.domain import local_date
from schemas.models.base import NAMESPACE_ROOT, Contract, Sex, field
from schemas.models.common import AdministrativeUnit, PersonName, PersonRef
from schemas.models.envelope import Event
from schemas.models.types import CountryCode, DocumentNumber, PastDate, raise_first

NS = f"{NAMESPACE_ROOT}.civilstatus"


class BirthRegistered(Contract):
    """A birth was registered (đăng ký khai sinh); the subject PIN is the child's."""

    avro_namespace = NS
    name: PersonName = field("Birth name of the child.", "personal")
    date_of_birth: PastDate = field("Date of birth.", "personal")
    sex: Sex = field("Sex of the child.", "personal")
    place_of_birth: str | None = field(
        "Place of birth (nơi sinh), as written.", "personal", default=None, max_length=200
    )
    place_of_birth_registration: AdministrativeUnit = field(
        "Administrative unit where the birth was registered.", "personal"
    )
    hometown: str | None = field(
        "Hometown (quê quán), as written.", "personal", default=None, max_length=200
    )
    ethnicity: str = field("Ethnic group (dân tộc).", "sensitive", max_length=60)
    nationalities: list[CountryCode] = field(
        "Nationalities, ISO 3166-1 alpha-2 codes.", "personal", min_length=1
    )
    father: PersonRef | None = field("Father, when registered.", "personal", default=None)
    mother: PersonRef | None = field("Mother, when registered.", "personal", default=None)
    certificate_number: DocumentNumber = field("Birth certificate number.")


class DeathRegistered(Contract):
    """A death was registered (đăng ký khai tử)."""

    avro_namespace = NS
    date_of_death: PastDate = field("Date of death.", "personal")
    place_of_death: str | None = field(
        "Place of death, as written.", "personal", default=None, max_length=200
    )
    certificate_number: DocumentNumber = field("Death certificate number.")


class MarriageRegistered(Contract):
    """A marriage was registered (đăng ký kết hôn)."""

    avro_namespace = NS
    spouse: PersonRef = field("The spouse.", "personal")
    married_on: PastDate = field("Date of registration of the marriage.", "personal")
    registered_at: AdministrativeUnit = field("Unit where the marriage was registered.")
    certificate_number: DocumentNumber = field("Marriage certificate number.")


class DissolutionReason(StrEnum):
    """Why a marriage ended."""

    DIVORCE = "DIVORCE"
    ANNULMENT = "ANNULMENT"
    SPOUSE_DECEASED = "SPOUSE_DECEASED"


class MarriageDissolved(Contract):
    """A marriage ended by divorce, annulment by a court, or death of the spouse."""

    avro_namespace = NS
    spouse: PersonRef = field("The former spouse.", "personal")
    dissolved_on: PastDate = field("Date the marriage ended.", "personal")
    reason: DissolutionReason = field("Why the marriage ended.", "personal")
    decision_number: DocumentNumber | None = field("Court decision number, if any.", default=None)


class CivilStatusChanged(Contract):
    """A change of name, sex, ethnicity or nationality (thay đổi, cải chính hộ tịch)."""

    avro_namespace = NS
    name: PersonName | None = field("New name, if changed.", "personal", default=None)
    sex: Sex | None = field("New sex, if re-determined.", "personal", default=None)
    ethnicity: str | None = field(
        "New ethnic group, if changed.", "sensitive", default=None, max_length=60
    )
    nationalities: list[CountryCode] | None = field(
        "New nationalities, if changed.", "personal", default=None
    )
    decision_number: DocumentNumber = field("Number of the decision that made the change.")

    @model_validator(mode="after")
    def _changes_something(self) -> CivilStatusChanged:
        if (self.name, self.sex, self.ethnicity, self.nationalities) == (None, None, None, None):
            raise PydanticCustomError(
                "event.no_change", "a civil status change must change at least one field"
            )
        return self


class CivilStatusEvent(Event):
    """Base of the events on `civilstatus.events.v1`."""

    domain: ClassVar[str] = "civil-status"
    avro_namespace = NS


class BirthRegisteredEvent(CivilStatusEvent):
    """Envelope + BirthRegistered; the child's PIN must agree with birth date and sex."""

    event_type: Literal["BirthRegistered"] = "BirthRegistered"
    payload: BirthRegistered

    @model_validator(mode="after")
    def _pin_matches_child(self) -> BirthRegisteredEvent:
        unit = self.payload.place_of_birth_registration
        raise_first(
            unit.issues("payload.place_of_birth_registration", as_of=local_date(self.occurred_at)),
            at_subfield=True,
        )
        self.check_subject_pin(self.payload.date_of_birth, self.payload.sex.value)
        return self


class DeathRegisteredEvent(CivilStatusEvent):
    """Envelope + DeathRegistered."""

    event_type: Literal["DeathRegistered"] = "DeathRegistered"
    payload: DeathRegistered


class MarriageRegisteredEvent(CivilStatusEvent):
    """Envelope + MarriageRegistered."""

    event_type: Literal["MarriageRegistered"] = "MarriageRegistered"
    payload: MarriageRegistered


class MarriageDissolvedEvent(CivilStatusEvent):
    """Envelope + MarriageDissolved."""

    event_type: Literal["MarriageDissolved"] = "MarriageDissolved"
    payload: MarriageDissolved


class CivilStatusChangedEvent(CivilStatusEvent):
    """Envelope + CivilStatusChanged."""

    event_type: Literal["CivilStatusChanged"] = "CivilStatusChanged"
    payload: CivilStatusChanged


CIVIL_STATUS_EVENTS = (
    BirthRegisteredEvent,
    DeathRegisteredEvent,
    MarriageRegisteredEvent,
    MarriageDissolvedEvent,
    CivilStatusChangedEvent,
)
