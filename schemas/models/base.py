"""Building blocks of every contract model: the base class, tagged fields and shared enums.

Every field carries a `doc` (its description) and a `sensitivity`; the Avro generator
(`schemas.avro_gen`) copies both into the `.avsc` files, so the models are the one source of truth.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

FieldSensitivity = Literal["none", "identifier", "personal", "sensitive", "contact"]
NAMESPACE_ROOT = "vn.gov.databus"


def field(
    description: str,
    sensitivity: FieldSensitivity = "none",
    **kwargs: Any,
) -> Any:
    """A model field with its documentation and personal-data sensitivity tag."""
    return Field(description=description, json_schema_extra={"sensitivity": sensitivity}, **kwargs)


class Contract(BaseModel):
    """Base of every record on the bus: strict shape, immutable, NFC names via validators."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=False,
        use_enum_values=False,
        hide_input_in_errors=True,
    )
    avro_namespace: ClassVar[str] = NAMESPACE_ROOT

    @classmethod
    def avro_fullname(cls) -> str:
        """The record's Avro full name, e.g. `vn.gov.databus.civilstatus.BirthRegistered`."""
        return f"{cls.avro_namespace}.{cls.__name__}"


class Sex(StrEnum):
    """Sex as registered (giới tính)."""

    MALE = "MALE"
    FEMALE = "FEMALE"


class ChangeType(StrEnum):
    """What an event does to earlier facts."""

    CREATED = "CREATED"
    CORRECTED = "CORRECTED"
    ANNULLED = "ANNULLED"


class MaritalStatus(StrEnum):
    """Marital status (tình trạng hôn nhân)."""

    SINGLE = "SINGLE"
    MARRIED = "MARRIED"
    DIVORCED = "DIVORCED"
    WIDOWED = "WIDOWED"


class BloodType(StrEnum):
    """ABO/Rh blood group."""

    A_POS = "A_POS"
    A_NEG = "A_NEG"
    B_POS = "B_POS"
    B_NEG = "B_NEG"
    AB_POS = "AB_POS"
    AB_NEG = "AB_NEG"
    O_POS = "O_POS"
    O_NEG = "O_NEG"
