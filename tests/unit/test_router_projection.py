"""Lawful projections: a sector sees only its allowed fields, and only when they change."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from databus.projection import project, releases
from databus.topology.loader import load_topology
from schemas.domain import make_pin
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange

TOPOLOGY = load_topology(Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml")
NOW = datetime(2025, 8, 4, 3, 0, tzinfo=UTC)
PIN = make_pin("001", date(1990, 3, 14), "FEMALE", 5)


def change(
    version: int, fields: list[str], event_type: str = "CivilStatusChanged", **citizen: object
) -> PopulationChange:
    record = Citizen.model_validate(
        {
            "pin": PIN,
            "family_name": "Nguyễn",
            "given_name": "Ánh",
            "date_of_birth": "1990-03-14",
            "sex": "FEMALE",
            "nationalities": ["VN"],
            "household_id": "HK1",
            "mobile_number": "0912345678",
            "blood_type": "O_POS",
            **citizen,
        }
    )
    return PopulationChange(
        pin=PIN,
        version=version,
        event_id=uuid.uuid4(),
        event_type=event_type,
        source="VN/GOV/BTP/hotich",
        changed_fields=fields,
        occurred_at=NOW,
        applied_at=NOW,
        citizen=record,
    )


def test_a_field_a_sector_may_not_see_never_reaches_it() -> None:
    moved = change(5, ["household_id"])
    got = {r.sector for r in releases(dict(TOPOLOGY.sectors), moved, NOW)}
    assert "social-insurance" in got
    assert "tax" not in got and "health" not in got and "mobile-subscribers" not in got
    health = TOPOLOGY.sectors["health"]
    phone = project("health", health, change(6, ["mobile_number"]), NOW)
    assert phone is not None and phone.projection.released_fields == ["mobile_number"]
    projected = phone.projection.citizen.model_dump()
    assert projected["mobile_number"] == "0912345678"
    assert projected["household_id"] is None  # not allowed to health: left empty
    assert {k for k, v in projected.items() if v not in (None, [])} <= set(health.allowed_fields)


def test_entering_the_population_releases_every_allowed_field_that_has_a_value() -> None:
    born = change(1, ["family_name", "given_name"], event_type="BirthRegistered")
    tax = project("tax", TOPOLOGY.sectors["tax"], born, NOW)
    assert tax is not None
    assert "pin" in tax.projection.released_fields
    assert "mobile_number" not in tax.projection.released_fields
    assert "blood_type" not in tax.projection.citizen.model_dump(exclude_none=True)


def test_usage_record_names_sector_fields_and_legal_basis_and_is_stable() -> None:
    moved = change(7, ["household_id"])
    first = project("social-insurance", TOPOLOGY.sectors["social-insurance"], moved, NOW)
    again = project("social-insurance", TOPOLOGY.sectors["social-insurance"], moved, NOW)
    assert first is not None and again is not None
    assert first.usage.usage_id == again.usage.usage_id  # a repeated release is the same usage
    assert first.usage.fields_released == ["household_id"]
    assert first.usage.agency == "VN/GOV/BHXH/baohiem"
    assert first.usage.legal_basis and all(first.usage.legal_basis)
    assert first.usage.citizen_version == 7
