"""The stored JSON written straight from a projection model is `to_row`'s text, byte for byte
(the reconciler hashes it), for every sector and for awkward values."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from consumers.sink.record_json import compile_record_json
from consumers.sink.store import projection_row, to_row
from databus.projection import snapshot
from databus.topology.loader import load_topology
from schemas.avro_gen import record_schema
from schemas.models.base import Contract
from schemas.models.citizen import CitizenProjection
from tests.generated_citizens import generated_citizens

TOPOLOGY = Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml"


def _reference(citizen: Contract, deceased: bool, erase: bool) -> Any:
    return to_row(
        "001190123456", 4, deceased, citizen.model_dump(mode="json"), erase_deceased=erase
    )


def _fast(citizen: Contract, deceased: bool, erase: bool) -> Any:
    return projection_row("001190123456", 4, deceased, citizen, erase_deceased=erase)


def test_the_citizen_projection_gets_a_compiled_writer() -> None:
    assert compile_record_json(record_schema(CitizenProjection)) is not None


def test_generated_citizens_are_stored_alike_for_every_sector(tmp_path: Path) -> None:
    topology = load_topology(TOPOLOGY)
    records = generated_citizens(topology, tmp_path, citizens=400, seed=5)
    for sector in topology.sectors.values():
        for record in records:
            view = snapshot(sector, record)
            for erase in (False, True):
                fast = _fast(view.citizen, view.deceased, erase)
                assert fast == _reference(view.citizen, view.deceased, erase)


@pytest.mark.parametrize(
    "text",
    ['Số 5 "Hẻm" \\ 12', "tab\there\nnew line", "\u2028\u00a0\x7f end", "🏠 nhà", ""],
)
def test_awkward_strings_empty_values_and_deceased_are_stored_alike(text: str) -> None:
    values: dict[str, Any] = {
        "pin": "001190123456",
        "family_name": "Nguyễn",
        "given_name": "An",
        "other_names": [],
        "nationalities": ["VN", "LA"],
        "children": [],
        "pin_history": [{"pin": "001090123456", "replaced_on": date(2020, 2, 29), "reason": text}],
        "permanent_residence": {
            "unit": {"scheme": "VN-63", "province_code": "01", "district_code": None},
            "street": text,
        },
        "occupation": text,
        "email": None,
        "date_of_death": date(2025, 1, 2),
    }
    citizen = CitizenProjection.model_validate(values)
    for deceased in (False, True):
        for erase in (False, True):
            assert _fast(citizen, deceased, erase) == _reference(citizen, deceased, erase)
