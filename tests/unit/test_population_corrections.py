"""Cross-type corrections and the mandatory fields, on SQLite (issue 11's reproduction first)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select

from databus.population.schema import citizens, create_population_schema
from schemas.domain import make_pin
from schemas.models.envelope import Event
from streams.population.apply import Incoming, Outcome, PopulationApplier
from tests.population_events import T0, ModelOutbox, birth, event, name_change, topology

PIN = make_pin("001", date(2024, 5, 17), "FEMALE", 424242)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'npd.db'}")
    create_population_schema(engine)
    yield engine
    engine.dispose()


def run(engine: Engine, applier: PopulationApplier, *events: Event) -> list[Outcome]:
    with engine.begin() as conn:
        return applier.apply_batch(conn, [Incoming(e) for e in events])


def record(engine: Engine, pin: str = PIN) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(citizens.c.record).where(citizens.c.pin == pin)).one()[0])


def test_a_name_change_correcting_a_birth_replaces_only_the_name(engine: Engine) -> None:
    """The bug of issue 11: the correction switched off every fact of the birth."""
    applier = PopulationApplier(topology(), ModelOutbox())
    born = birth(PIN)
    run(engine, applier, born)
    [outcome] = run(engine, applier, name_change(PIN, T0, "Ánh Dương", corrects=born))
    assert (outcome.status, outcome.reason) == ("applied", None)
    citizen = record(engine)
    assert citizen["given_name"] == "Ánh Dương"
    assert (citizen["date_of_birth"], citizen["sex"]) == ("2024-05-17", "FEMALE")
    assert citizen["place_of_birth_registration"] is not None
    assert citizen["nationalities"] == ["VN"]


def test_the_same_correction_in_the_birth_batch(engine: Engine) -> None:
    applier = PopulationApplier(topology(), ModelOutbox())
    born = birth(PIN)
    outcomes = run(engine, applier, born, name_change(PIN, T0, "Ánh Dương", corrects=born))
    assert [o.status for o in outcomes] == ["applied", "applied"]
    assert record(engine)["date_of_birth"] == "2024-05-17"


def test_a_residence_event_cannot_correct_a_birth(engine: Engine) -> None:
    applier = PopulationApplier(topology(), ModelOutbox())
    born = birth(PIN)
    run(engine, applier, born)
    wrong = event(
        "PermanentResidenceRegistered",
        PIN,
        T0 + timedelta(days=1),
        change_type="CORRECTED",
        corrects_event_id=str(born.event_id),
    )
    [outcome] = run(engine, applier, wrong)
    assert (outcome.status, outcome.reason) == ("dead_letter", "correction_type_mismatch")
    assert PIN not in outcome.message
    assert record(engine).get("permanent_residence") is None


def test_annulling_the_only_source_of_the_name_is_refused(engine: Engine) -> None:
    """A name change corrects the birth's name; annulling it would leave no name at all."""
    applier = PopulationApplier(topology(), ModelOutbox())
    born = birth(PIN)
    fix = name_change(PIN, T0, "Ánh Dương", corrects=born)
    run(engine, applier, born, fix)
    annul = event(
        "CivilStatusChanged",
        PIN,
        T0,
        change_type="ANNULLED",
        corrects_event_id=str(fix.event_id),
    )
    [outcome] = run(engine, applier, annul)
    assert (outcome.status, outcome.reason) == ("dead_letter", "mandatory_field_lost")
    assert "given_name" in outcome.message and PIN not in outcome.message
    assert record(engine)["given_name"] == "Ánh Dương"
