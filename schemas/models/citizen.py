"""The citizen record of the National Population Database (the golden record).

Its fields are exactly `schemas.fields.CITIZEN_FIELDS` (a test keeps them equal); the sector
projection is the same record with every field optional, so a sector only ever sees the fields
its legal basis allows and the rest stay empty.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from pydantic import create_model

from schemas.models.base import NAMESPACE_ROOT, BloodType, Contract, MaritalStatus, Sex, field
from schemas.models.common import (
    Address,
    AdministrativeUnit,
    IdentityCard,
    PersonRef,
    PinHistoryEntry,
)
from schemas.models.types import CountryCode, Name, PastDate, Pin

NS = f"{NAMESPACE_ROOT}.population"


class Citizen(Contract):
    """A citizen as the NPD holds them after applying every accepted event."""

    avro_namespace = NS
    pin: Pin = field("Personal identification number (số định danh cá nhân).", "identifier")
    pin_history: list[PinHistoryEntry] = field(
        "Earlier PINs, oldest first.", "identifier", default_factory=list
    )
    old_id_number: str | None = field(
        "Old 9-digit identity card number (CMND).", "identifier", default=None
    )
    family_name: Name = field("Family name (họ), Unicode NFC.", "personal")
    middle_name: Name | None = field(
        "Middle name (chữ đệm), Unicode NFC.", "personal", default=None
    )
    given_name: Name = field("Given name (tên), Unicode NFC.", "personal")
    other_names: list[str] = field(
        "Other names in use (tên gọi khác).", "personal", default_factory=list
    )
    date_of_birth: PastDate = field("Date of birth.", "personal")
    sex: Sex = field("Sex as registered.", "personal")
    place_of_birth: str | None = field("Place of birth (nơi sinh).", "personal", default=None)
    place_of_birth_registration: AdministrativeUnit | None = field(
        "Unit where the birth was registered.", "personal", default=None
    )
    hometown: str | None = field("Hometown (quê quán).", "personal", default=None)
    ethnicity: str | None = field("Ethnic group (dân tộc).", "sensitive", default=None)
    religion: str | None = field("Religion (tôn giáo).", "sensitive", default=None)
    nationalities: list[CountryCode] = field(
        "Nationalities (ISO 3166-1 alpha-2).", "personal", default_factory=list
    )
    blood_type: BloodType | None = field("Blood group.", "personal", default=None)
    identity_card: IdentityCard | None = field("Current identity card.", "identifier", default=None)
    marital_status: MaritalStatus = field(
        "Marital status.", "personal", default=MaritalStatus.SINGLE
    )
    father: PersonRef | None = field("Father.", "personal", default=None)
    mother: PersonRef | None = field("Mother.", "personal", default=None)
    spouse: PersonRef | None = field("Current spouse.", "personal", default=None)
    children: list[PersonRef] = field("Children.", "personal", default_factory=list)
    guardian: PersonRef | None = field("Guardian (người giám hộ).", "personal", default=None)
    legal_representative: PersonRef | None = field(
        "Legal representative.", "personal", default=None
    )
    household_id: str | None = field("Household id.", "identifier", default=None)
    relation_to_head: str | None = field(
        "Relation to the head of household.", "personal", default=None
    )
    permanent_residence: Address | None = field(
        "Permanent residence (thường trú).", "personal", default=None
    )
    temporary_residence: Address | None = field(
        "Temporary residence (tạm trú).", "personal", default=None
    )
    current_residence: Address | None = field(
        "Current residence (nơi ở hiện tại).", "personal", default=None
    )
    date_of_death: date | None = field("Date of death.", "personal", default=None)
    missing_since: date | None = field("Declared missing since.", "personal", default=None)
    mobile_number: str | None = field("Mobile phone number.", "contact", default=None)
    email: str | None = field("E-mail address.", "contact", default=None)
    occupation: str | None = field("Occupation (nghề nghiệp).", "personal", default=None)


def _optional_fields(model: type[Contract]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        extra = cast(dict[str, Any], info.json_schema_extra or {})
        fields[name] = (
            annotation | None,  # type: ignore[operator]
            field(info.description or name, extra.get("sensitivity", "none"), default=None),
        )
    return fields


CitizenProjection: type[Contract] = create_model(
    "CitizenProjection",
    __base__=Contract,
    __doc__="The citizen fields a sector may see; every other field is left empty.",
    **_optional_fields(Citizen),
)
CitizenProjection.avro_namespace = f"{NAMESPACE_ROOT}.sector"
