"""Records shared by events and citizen records: names, people, places, identity cards."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import ValidationInfo, model_validator

from schemas.domain import Issue, admin_unit_issues
from schemas.models.base import NAMESPACE_ROOT, Contract, field
from schemas.models.types import Name, PastDate, Pin, raise_first, trusted

COMMON = f"{NAMESPACE_ROOT}.common"


class PersonName(Contract):
    """A birth name: family name (họ), middle name (chữ đệm), given name (tên)."""

    avro_namespace = COMMON
    family_name: Name = field("Family name (họ), Unicode NFC.", "personal")
    middle_name: Name | None = field("Middle name (chữ đệm), if any.", "personal", default=None)
    given_name: Name = field("Given name (tên), Unicode NFC.", "personal")


class PersonRef(Contract):
    """A reference to another person: PIN when known, and the name as registered."""

    avro_namespace = COMMON
    pin: Pin | None = field("PIN of the person, when known.", "identifier", default=None)
    name: PersonName = field("Name of the person as registered.", "personal")


class AdministrativeUnit(Contract):
    """An administrative unit under a versioned scheme (VN-63 before 1 July 2025, VN-34 after)."""

    avro_namespace = COMMON
    scheme: str = field("Coding scheme of the units: VN-63 or VN-34.")
    province_code: str = field("Two-digit province code in the scheme.")
    district_code: str | None = field(
        "Three-digit district code (VN-63 only; VN-34 has no districts).", default=None
    )
    commune_code: str | None = field("Five-digit commune/ward code.", default=None)

    @model_validator(mode="after")
    def _codes_fit_scheme(self, info: ValidationInfo) -> AdministrativeUnit:
        if not trusted(info):
            raise_first(self.issues(), at_subfield=True)
        return self

    def issues(self, prefix: str = "", as_of: date | None = None) -> list[Issue]:
        """Problems of the codes under the scheme (and, with `as_of`, of the scheme's date)."""
        found = admin_unit_issues(
            self.scheme,
            self.province_code,
            self.district_code,
            self.commune_code,
            "unit",
            as_of=as_of,
        )
        return [Issue(_join(prefix, _model_field(i.field)), i.rule, i.message) for i in found]


def _model_field(issue_field: str) -> str:
    level = issue_field.rsplit(".", 1)[-1]
    return _FIELD_OF_LEVEL.get(level, level)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


_FIELD_OF_LEVEL = {
    "scheme": "scheme",
    "province": "province_code",
    "district": "district_code",
    "commune": "commune_code",
}


class Address(Contract):
    """A residence address: the administrative unit and the street-level detail."""

    avro_namespace = COMMON
    unit: AdministrativeUnit = field("Administrative unit of the address.")
    street: str | None = field(
        "House number, street, hamlet (số nhà, đường, thôn/xóm).",
        "personal",
        default=None,
        max_length=200,
    )


class IdentityCardType(StrEnum):
    """Kinds of identity document issued from the NPD."""

    CCCD = "CCCD"
    CAN_CUOC = "CAN_CUOC"
    CMND = "CMND"


class IdentityCard(Contract):
    """An identity card (thẻ căn cước / căn cước công dân)."""

    avro_namespace = COMMON
    card_type: IdentityCardType = field("Type of card.")
    number: str = field(
        "Card number (12 digits for CCCD and căn cước).",
        "identifier",
        pattern=r"^[0-9]{9}([0-9]{3})?$",
    )
    issued_on: PastDate = field("Date of issue.")
    expires_on: date | None = field("Date of expiry; none for cards valid for life.", default=None)
    issuer: str = field("Issuing authority.", max_length=120)


class PinHistoryEntry(Contract):
    """A PIN the citizen held before a re-establishment."""

    avro_namespace = COMMON
    pin: Pin = field("The earlier PIN.", "identifier")
    replaced_on: PastDate = field("When the new PIN replaced it.")
    reason: str = field("Why it was replaced (e.g. GENDER_REDETERMINATION).")
