"""One scripted scenario per population-sync rule, on real PostgreSQL: final row and lineage."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Connection, Engine, create_engine, select

from databus.population.schema import (
    applied_events,
    citizens,
    create_population_schema,
    facts_of,
    field_facts,
    lineage,
    pin_links,
)
from databus.topology.loader import parse_topology
from databus.topology.model import Topology
from schemas.domain import make_pin
from schemas.examples import EXAMPLES
from schemas.models.downstream import PopulationChange
from schemas.models.envelope import Event
from streams.population.apply import AppliedChange, Incoming, Outcome, PopulationApplier
from tests.population_events import event

TOPOLOGY_TEXT = (Path(__file__).resolve().parents[2] / "deploy" / "topology.yaml").read_text()
T0 = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)


class Outbox:
    def __init__(self) -> None:
        self.changes: list[PopulationChange] = []

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None:
        self.changes += [change.model() for change in changes]


def topology(tweak: Any = None) -> Topology:
    data = yaml.safe_load(TOPOLOGY_TEXT)
    if tweak:
        tweak(data)
    return parse_topology(yaml.safe_dump(data, allow_unicode=True))


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    create_population_schema(engine)
    yield engine
    engine.dispose()


def birth(pin: str, at: datetime = T0) -> Event:
    data = copy.deepcopy(EXAMPLES["BirthRegistered"]["payload"])
    data.update(date_of_birth="2024-05-17", sex="FEMALE", father=None, mother=None)
    return event("BirthRegistered", pin, at, payload=data)


def residence(pin: str, at: datetime, street: str, **changes: Any) -> Event:
    payload = copy.deepcopy(EXAMPLES["PermanentResidenceRegistered"]["payload"])
    payload["address"]["street"] = street
    return event("PermanentResidenceRegistered", pin, at, payload=payload, **changes)


def run(engine: Engine, applier: PopulationApplier, *events: Event) -> list[Outcome]:
    with engine.begin() as conn:
        return applier.apply_batch(conn, [Incoming(e) for e in events])


def row(engine: Engine, pin: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(citizens).where(citizens.c.pin == pin)).one()


def trail(engine: Engine, pin: str) -> list[tuple[int, str, str, str]]:
    """The PIN's lineage, one entry per field (a row holds all the fields one event set)."""
    with engine.connect() as conn:
        return [
            (r.version, name, r.action, r.event_id)
            for r in conn.execute(
                select(lineage).where(lineage.c.pin == pin).order_by(lineage.c.id)
            )
            for name in r.fields
        ]


PIN = make_pin("001", datetime(2024, 5, 17).date(), "FEMALE", 424242)


def test_late_event_is_recorded_but_does_not_overwrite_newer_data(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    new, old = (
        residence(PIN, T0 + timedelta(days=10), "Newer street"),
        residence(PIN, T0 + timedelta(days=5), "Older street"),
    )
    run(engine, applier, birth(PIN), new)
    [outcome] = run(engine, applier, old)
    assert outcome.status == "late" and outcome.reason == "event.late"
    citizen = row(engine, PIN)
    assert citizen.record["permanent_residence"]["street"] == "Newer street"
    assert citizen.version == 2
    late = [t for t in trail(engine, PIN) if t[3] == str(old.event_id)]
    assert {t[2] for t in late} == {"late"}
    assert "permanent_residence" in {t[1] for t in late}


def test_correction_replaces_what_it_corrects(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    first = residence(PIN, T0 + timedelta(days=1), "Wrong street")
    fix = residence(
        PIN,
        T0 + timedelta(days=1),
        "Right street",
        change_type="CORRECTED",
        corrects_event_id=str(first.event_id),
    )
    run(engine, applier, birth(PIN), first)
    [outcome] = run(engine, applier, fix)
    assert outcome.status == "applied"
    assert outcome.changes[0].changed_fields == ["permanent_residence"]
    assert row(engine, PIN).record["permanent_residence"]["street"] == "Right street"
    with engine.connect() as conn:
        active = {
            r.event_id: counts
            for r in conn.execute(select(field_facts))
            for name, _, counts in facts_of(r.facts, r.fields_off, r.active)
            if name == "permanent_residence"
        }
    assert active == {str(first.event_id): False, str(fix.event_id): True}
    assert (3, "permanent_residence", "corrected", str(fix.event_id)) in trail(engine, PIN)


def test_annulment_reverts_to_what_remains(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    card = copy.deepcopy(EXAMPLES["IdentityCardIssued"]["payload"]["card"])
    one = event(
        "IdentityCardIssued",
        PIN,
        T0 + timedelta(days=1),
        payload={"card": {**card, "number": PIN, "issued_on": "2025-08-02"}},
    )
    two = event(
        "IdentityCardIssued",
        PIN,
        T0 + timedelta(days=2),
        payload={"card": {**card, "number": PIN, "issued_on": "2025-08-03"}},
    )
    run(engine, applier, birth(PIN), one, two)
    assert row(engine, PIN).record["identity_card"]["issued_on"] == "2025-08-03"
    annul = event(
        "IdentityCardIssued",
        PIN,
        T0 + timedelta(days=2),
        change_type="ANNULLED",
        corrects_event_id=str(two.event_id),
        payload={"card": two.payload.card.model_dump(mode="json")},
    )
    [outcome] = run(engine, applier, annul)
    assert outcome.status == "applied"
    citizen = row(engine, PIN)
    assert citizen.record["identity_card"]["issued_on"] == "2025-08-02"
    assert citizen.version == 4
    assert (4, "identity_card", "annulled", str(annul.event_id)) in trail(engine, PIN)


def test_after_death_only_corrections_apply(engine: Engine) -> None:
    outbox = Outbox()
    applier = PopulationApplier(topology(), outbox)
    death = event("DeathRegistered", PIN, T0 + timedelta(days=3))
    run(engine, applier, birth(PIN), death)
    move = residence(PIN, T0 + timedelta(days=4), "After death")
    [refused] = run(engine, applier, move)
    assert (refused.status, refused.reason) == ("dead_letter", "subject_deceased")
    assert PIN not in refused.message
    fixed = event(
        "DeathRegistered",
        PIN,
        T0 + timedelta(days=3),
        change_type="CORRECTED",
        corrects_event_id=str(death.event_id),
        payload={"date_of_death": "2025-08-03"},
    )
    [corrected] = run(engine, applier, fixed)
    assert corrected.status == "applied"
    citizen = row(engine, PIN)
    assert citizen.deceased and citizen.record["date_of_death"] == "2025-08-03"
    assert citizen.record.get("permanent_residence") is None
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(applied_events).where(applied_events.c.event_id == str(move.event_id))
            ).first()
            is None
        )


def test_unauthorised_field_is_dead_lettered(engine: Engine) -> None:
    def residence_loses_households(data: dict[str, Any]) -> None:
        owned = data["sources"]["residence"]["authoritative_for"]
        owned.remove("household_id")
        data["sources"]["civil-status"]["authoritative_for"].append("household_id")

    applier = PopulationApplier(topology(residence_loses_households), Outbox())
    run(engine, applier, birth(PIN))
    [outcome] = run(engine, applier, residence(PIN, T0 + timedelta(days=1), "X"))
    assert (outcome.status, outcome.reason) == ("dead_letter", "not_authoritative")
    assert "household_id" in outcome.message
    assert row(engine, PIN).version == 1
    assert row(engine, PIN).record.get("permanent_residence") is None


def test_duplicate_event_is_applied_once(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    move = residence(PIN, T0 + timedelta(days=1), "Once")
    outcomes = run(engine, applier, birth(PIN), move, move)
    assert [o.status for o in outcomes] == ["applied", "applied", "duplicate"]
    [again] = run(engine, applier, move)
    assert again.status == "duplicate"
    assert row(engine, PIN).version == 2
    assert len([t for t in trail(engine, PIN) if t[3] == str(move.event_id)]) == 3


def test_pin_reestablishment_links_old_and_new(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    new_pin = make_pin("001", datetime(2024, 5, 17).date(), "MALE", 424243)
    reestablish = event(
        "PinReestablished",
        new_pin,
        T0 + timedelta(days=1),
        payload={
            "old_pin": PIN,
            "reason": "GENDER_REDETERMINATION",
            "date_of_birth": "2024-05-17",
            "sex": "MALE",
            "effective_on": "2025-08-02",
        },
    )
    run(engine, applier, birth(PIN), reestablish)
    later = residence(PIN, T0 + timedelta(days=2), "Reached through the old PIN")
    [outcome] = run(engine, applier, later)
    assert outcome.status == "applied"
    assert outcome.changes[0].pin == new_pin
    citizen = row(engine, new_pin)
    assert citizen.record["pin"] == new_pin
    assert [h["pin"] for h in citizen.record["pin_history"]] == [PIN]
    assert citizen.record["permanent_residence"]["street"] == "Reached through the old PIN"
    with engine.connect() as conn:
        assert conn.execute(select(citizens).where(citizens.c.pin == PIN)).first() is None
        assert (
            conn.execute(select(pin_links.c.new_pin).where(pin_links.c.old_pin == PIN)).scalar()
            == new_pin
        )
        facts: set[str] = set(conn.scalars(select(field_facts.c.pin).distinct()))
    assert facts == {new_pin}


def _reestablishment(old_pin: str, new_pin: str, at: datetime, sex: str) -> Event:
    return event(
        "PinReestablished",
        new_pin,
        at,
        payload={
            "old_pin": old_pin,
            "reason": "GENDER_REDETERMINATION",
            "date_of_birth": "2024-05-17",
            "sex": sex,
            "effective_on": at.date().isoformat(),
        },
    )


def test_two_reestablishments_in_one_batch_link_the_first_pin_to_the_last(
    engine: Engine,
) -> None:
    """A -> B and B -> C applied in one batch (e.g. B -> C parked until A -> B, then released
    with it): the stored link of A must lead to C, so a later event for A reaches the citizen
    (found by the 100,000-event fault runs: A was left linked to the deleted B)."""
    applier = PopulationApplier(topology(), Outbox())
    second = make_pin("001", datetime(2024, 5, 17).date(), "MALE", 424243)
    third = make_pin("001", datetime(2024, 5, 17).date(), "FEMALE", 424244)
    run(engine, applier, birth(PIN))
    run(
        engine,
        applier,
        _reestablishment(PIN, second, T0 + timedelta(days=1), "MALE"),
        _reestablishment(second, third, T0 + timedelta(days=2), "FEMALE"),
    )
    with engine.connect() as conn:
        links: dict[str, str] = dict(
            conn.execute(select(pin_links.c.old_pin, pin_links.c.new_pin)).all()
        )
    assert links == {PIN: third, second: third}
    later = residence(PIN, T0 + timedelta(days=3), "Reached through the first PIN")
    [outcome] = run(engine, applier, later)
    assert outcome.status == "applied"
    assert outcome.changes[0].pin == third
    assert row(engine, third).record["permanent_residence"]["street"] == (
        "Reached through the first PIN"
    )


def test_event_before_its_birth_is_parked_then_applied(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    early = residence(PIN, T0 + timedelta(days=1), "Arrived first")
    [parked] = run(engine, applier, early)
    assert (parked.status, parked.reason) == ("parked", "subject_unknown")
    run(engine, applier, birth(PIN))
    citizen = row(engine, PIN)
    assert citizen.record["permanent_residence"]["street"] == "Arrived first"
    assert citizen.version == 2


def test_a_fact_from_before_the_death_arriving_late_still_applies(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    death = event(
        "DeathRegistered", PIN, T0 + timedelta(days=10), payload={"date_of_death": "2025-08-11"}
    )
    run(engine, applier, birth(PIN), death)
    earlier_move = residence(PIN, T0 + timedelta(days=2), "Before the death")
    [outcome] = run(engine, applier, earlier_move)
    assert outcome.status == "applied"
    assert row(engine, PIN).record["permanent_residence"]["street"] == "Before the death"


def test_events_for_a_new_pin_before_its_reestablishment_wait_for_it(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    new_pin = make_pin("001", datetime(2024, 5, 17).date(), "MALE", 424244)
    early = residence(new_pin, T0 + timedelta(days=3), "Under the new PIN")
    reestablish = event(
        "PinReestablished",
        new_pin,
        T0 + timedelta(days=1),
        payload={
            "old_pin": PIN,
            "reason": "GENDER_REDETERMINATION",
            "date_of_birth": "2024-05-17",
            "sex": "MALE",
            "effective_on": "2025-08-02",
        },
    )
    run(engine, applier, birth(PIN))
    [parked] = run(engine, applier, early)
    assert parked.status == "parked"
    run(engine, applier, reestablish)
    citizen = row(engine, new_pin)
    assert citizen.record["permanent_residence"]["street"] == "Under the new PIN"


def test_a_child_registered_before_its_mother_is_hers_once_she_is_born(engine: Engine) -> None:
    """The child's birth stores a `children` fact for a PIN that is no citizen yet; the
    mother's own birth, later, picks it up (the batch's early facts, read on PostgreSQL
    through the driver) with the child's event in her lineage."""
    applier = PopulationApplier(topology(), Outbox())
    mother_pin = make_pin("001", datetime(1990, 3, 2).date(), "FEMALE", 777)
    payload = copy.deepcopy(EXAMPLES["BirthRegistered"]["payload"])
    payload.update(date_of_birth="2024-05-17", sex="FEMALE", father=None)
    payload["mother"] = {
        "pin": mother_pin,
        "name": {"family_name": "Trần", "middle_name": "Thị", "given_name": "Hoa"},
    }
    child = event("BirthRegistered", PIN, T0, payload=payload)
    [outcome] = run(engine, applier, child)
    assert outcome.status == "applied"
    mother = copy.deepcopy(EXAMPLES["BirthRegistered"]["payload"])
    mother.update(date_of_birth="1990-03-02", sex="FEMALE", father=None, mother=None)
    run(engine, applier, event("BirthRegistered", mother_pin, T0, payload=mother))
    record = row(engine, mother_pin).record
    assert [c["pin"] for c in record["children"]] == [PIN]
    assert (2, "children", "set", str(child.event_id)) in trail(engine, mother_pin)


def test_a_birth_writes_one_lineage_row_with_all_its_fields(engine: Engine) -> None:
    applier = PopulationApplier(topology(), Outbox())
    run(engine, applier, birth(PIN))
    with engine.connect() as conn:
        rows = conn.execute(select(lineage).where(lineage.c.pin == PIN)).all()
    assert len(rows) == 1
    [only] = rows
    assert (only.version, only.action) == (1, "set")
    assert only.fields == sorted(only.fields)
    assert {"family_name", "given_name", "date_of_birth", "sex"} <= set(only.fields)
