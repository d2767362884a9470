"""Canonical field names of the citizen record (DESIGN.md §4).

These names are the vocabulary of the whole bus: the topology's `authoritative_for`,
`allowed_fields` and verification fields, the Avro schemas, the sector projections and the
lineage tables all use them. Sensitivity classes follow personal data protection law (Decree
13/2023/ND-CP Art. 2, whose basic/sensitive split the Law on Personal Data Protection
No. 91/2025/QH15 keeps): identifiers and contact details are basic personal data like the rest of
the record, but are kept in their own classes because they link records across systems; ethnic
origin and religion are *sensitive* personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Sensitivity = Literal["identifier", "personal", "sensitive", "contact"]
"""Class of a citizen field: how carefully a release of it must be justified and logged."""

SENSITIVITIES: Final[tuple[Sensitivity, ...]] = ("identifier", "personal", "sensitive", "contact")


@dataclass(frozen=True, slots=True)
class CitizenField:
    """One field of the citizen record in the National Population Database."""

    name: str
    description: str
    sensitivity: Sensitivity


CITIZEN_FIELDS: Final[tuple[CitizenField, ...]] = (
    # Identification.
    CitizenField(
        "pin", "Personal identification number (số định danh cá nhân), 12 digits", "identifier"
    ),
    CitizenField(
        "pin_history", "Earlier PINs replaced by re-establishment, oldest first", "identifier"
    ),
    CitizenField("old_id_number", "Old 9-digit identity card number (CMND), if any", "identifier"),
    # Birth name and civil status.
    CitizenField("family_name", "Family name (họ) of the birth name, Unicode NFC", "personal"),
    CitizenField("middle_name", "Middle name (chữ đệm) of the birth name, Unicode NFC", "personal"),
    CitizenField("given_name", "Given name (tên) of the birth name, Unicode NFC", "personal"),
    CitizenField("other_names", "Other names in use (tên gọi khác)", "personal"),
    CitizenField("date_of_birth", "Date of birth", "personal"),
    CitizenField("sex", "Sex (giới tính) as registered", "personal"),
    CitizenField("place_of_birth", "Place of birth (nơi sinh)", "personal"),
    CitizenField(
        "place_of_birth_registration",
        "Place where the birth was registered (nơi đăng ký khai sinh)",
        "personal",
    ),
    CitizenField("hometown", "Hometown (quê quán)", "personal"),
    CitizenField("ethnicity", "Ethnic group (dân tộc)", "sensitive"),
    CitizenField("religion", "Religion (tôn giáo)", "sensitive"),
    CitizenField("nationalities", "Nationality or nationalities (quốc tịch)", "personal"),
    CitizenField(
        "blood_type", "Blood type, optional (Decree 13 excludes it from health data)", "personal"
    ),
    CitizenField(
        "identity_card",
        "Current identity card: type, number, issue date, issuer, expiry",
        "identifier",
    ),
    CitizenField("marital_status", "Marital status (tình trạng hôn nhân)", "personal"),
    # Relations: each is a PIN plus a name.
    CitizenField("father", "Father: PIN and name", "personal"),
    CitizenField("mother", "Mother: PIN and name", "personal"),
    CitizenField("spouse", "Spouse: PIN and name", "personal"),
    CitizenField("children", "Children: PIN and name of each", "personal"),
    CitizenField("guardian", "Guardian (người giám hộ): PIN and name", "personal"),
    CitizenField(
        "legal_representative",
        "Legal representative (người đại diện theo pháp luật): PIN and name",
        "personal",
    ),
    # Household and residence.
    CitizenField("household_id", "Household (hộ gia đình) identifier", "identifier"),
    CitizenField(
        "relation_to_head", "Relation to the head of household (quan hệ với chủ hộ)", "personal"
    ),
    CitizenField(
        "permanent_residence", "Permanent residence (nơi thường trú), versioned address", "personal"
    ),
    CitizenField(
        "temporary_residence", "Temporary residence (nơi tạm trú), versioned address", "personal"
    ),
    CitizenField(
        "current_residence", "Current residence (nơi ở hiện tại), versioned address", "personal"
    ),
    # Death and disappearance.
    CitizenField("date_of_death", "Date of death", "personal"),
    CitizenField("missing_since", "Date from which the citizen is declared missing", "personal"),
    # Contact and occupation.
    CitizenField("mobile_number", "Mobile phone number", "contact"),
    CitizenField("email", "E-mail address", "contact"),
    CitizenField("occupation", "Occupation (nghề nghiệp)", "personal"),
)
"""Every citizen field, in the order of the record."""

CITIZEN_FIELDS_BY_NAME: Final[dict[str, CitizenField]] = {f.name: f for f in CITIZEN_FIELDS}
"""Citizen fields by name."""

CITIZEN_FIELD_NAMES: Final[frozenset[str]] = frozenset(CITIZEN_FIELDS_BY_NAME)
"""The set of valid citizen field names."""


def citizen_field(name: str) -> CitizenField:
    """Return the field called `name`; raise `KeyError` naming it if there is none."""
    try:
        return CITIZEN_FIELDS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown citizen field {name!r}") from None


def is_citizen_field(name: str) -> bool:
    """Tell whether `name` is a canonical citizen field name."""
    return name in CITIZEN_FIELD_NAMES
