"""A stateful hypothesis machine driving random event sequences through the population sync.

Every event type is published in random order: births (with parents among the people), deaths,
marriages, name/sex changes, residence, identity cards, PIN issues and re-establishments,
reference events; corrections and annulments of ANY earlier event by an event of ANY type;
duplicate deliveries; events for a PIN before its birth or re-establishment. The events are
applied to a database in batches cut where hypothesis decides. After every batch: nothing
raised, no event needed isolation (the rules handle every sequence), every citizen keeps its
mandatory fields and is a valid Citizen. At the end the same deliveries are applied in ONE
batch to a fresh database and again with the same cuts to another one: the same tables (batch
cuts do not matter; a replay from scratch gives the same database). `SqlMachine.urls` adds
other databases (PostgreSQL) that get the same batches and must end with the same tables.
"""

from __future__ import annotations

import json
import os
import pickle
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.pool import StaticPool

from databus.population.schema import (
    applied_events,
    citizens,
    create_population_schema,
    facts_of,
    field_facts,
    lineage,
    parked_events,
    pin_links,
)
from schemas.domain import make_pin
from schemas.models.citizen import Citizen
from schemas.models.envelope import Event
from schemas.models.types import TRUSTED
from streams.population.apply import AppliedChange, Incoming, Outcome, PopulationApplier
from streams.population.rules import aware, missing_mandatory
from tests.population_events import T0, event, topology


@dataclass(frozen=True)
class Person:
    pin: str
    new_pin: str
    """The PIN a re-establishment (gender re-determination) gives them."""
    dob: date
    sex: str

    @property
    def other_sex(self) -> str:
        return "MALE" if self.sex == "FEMALE" else "FEMALE"


PEOPLE = tuple(
    Person(
        make_pin("001", date(1990 + i, 3, 1 + i), sex, 100 + i),
        make_pin("001", date(1990 + i, 3, 1 + i), "MALE" if sex == "FEMALE" else "FEMALE", 900 + i),
        date(1990 + i, 3, 1 + i),
        sex,
    )
    for i, sex in enumerate(("FEMALE", "MALE", "FEMALE"))
)
PIN_INFO = {p.pin: (p.dob, p.sex) for p in PEOPLE} | {
    p.new_pin: (p.dob, p.other_sex) for p in PEOPLE
}
GIVEN = ("Ánh", "Hằng", "Dũng", "Lan")
KINDS = (
    "BirthRegistered",
    "DeathRegistered",
    "MarriageRegistered",
    "MarriageDissolved",
    "CivilStatusChanged",
    "PermanentResidenceRegistered",
    "TemporaryResidenceRegistered",
    "ResidenceDeregistered",
    "Emigrated",
    "PinIssued",
    "PinReestablished",
    "IdentityCardIssued",
    "AdministrativeUnitsReorganized",
)
WARD = {"scheme": "VN-34", "province_code": "01", "district_code": None, "commune_code": "00004"}


def ref(person: Person, given: str) -> dict[str, Any]:
    return {
        "pin": person.pin,
        "name": {"family_name": "Trần", "middle_name": None, "given_name": given},
    }


def payload(kind: str, pin: str | None, draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    """A random valid payload of `kind` for subject `pin`."""
    others = st.sampled_from(PEOPLE)
    given = st.sampled_from(GIVEN)
    day = date(2025, 8, 1) + timedelta(days=draw(st.integers(0, 60)))
    dob, sex = PIN_INFO.get(pin or "", (PEOPLE[0].dob, PEOPLE[0].sex))
    if kind == "BirthRegistered":
        parents = [draw(st.none() | others.map(lambda p: ref(p, "Dũng"))) for _ in range(2)]
        return {
            "name": {"family_name": "Nguyễn", "middle_name": "Ngọc", "given_name": draw(given)},
            "date_of_birth": dob.isoformat(),
            "sex": sex,
            "father": parents[0],
            "mother": parents[1],
            "place_of_birth": draw(st.sampled_from(["Hà Nội", "Nam Định"])),
        }
    if kind == "DeathRegistered":
        return {"date_of_death": day.isoformat()}
    if kind in ("MarriageRegistered", "MarriageDissolved"):
        spouse = ref(draw(others), draw(given))
        if kind == "MarriageRegistered":
            return {"spouse": spouse, "married_on": day.isoformat()}
        reason = draw(st.sampled_from(["DIVORCE", "SPOUSE_DECEASED", "ANNULMENT"]))
        return {"spouse": spouse, "dissolved_on": day.isoformat(), "reason": reason}
    if kind == "CivilStatusChanged":
        name = {"family_name": "Nguyễn", "middle_name": None, "given_name": draw(given)}
        which = draw(st.sampled_from(["name", "sex", "both", "ethnicity"]))
        return {
            "name": name if which in ("name", "both") else None,
            "sex": draw(st.sampled_from(["MALE", "FEMALE"])) if which in ("sex", "both") else None,
            "ethnicity": "Tày" if which == "ethnicity" else None,
            "nationalities": None,
        }
    if kind in ("PermanentResidenceRegistered", "TemporaryResidenceRegistered"):
        street = draw(st.sampled_from(["12 Hàng Bạc", "45 Lê Lợi", "7 Phố Huế"]))
        return {"address": {"unit": WARD, "street": street}}
    if kind == "ResidenceDeregistered":
        return {"residence_kind": draw(st.sampled_from(["PERMANENT", "TEMPORARY"]))}
    if kind == "PinIssued":
        return {"date_of_birth": dob.isoformat(), "sex": sex}
    if kind == "PinReestablished":
        old = next((p.pin for p in PEOPLE if p.new_pin == pin), PEOPLE[0].pin)
        return {"old_pin": old, "date_of_birth": dob.isoformat(), "sex": sex}
    if kind == "IdentityCardIssued":
        card = {"number": pin, "issued_on": day.isoformat(), "card_type": "CAN_CUOC"}
        return {"card": {**card, "expires_on": "2040-01-01", "issuer": "Cục Cảnh sát QLHC"}}
    return {}


def subject_of(kind: str, person: Person, new_pin: bool) -> str | None:
    if kind == "AdministrativeUnitsReorganized":
        return None
    if kind == "PinReestablished":
        return person.new_pin
    if kind == "BirthRegistered":
        return person.pin
    return person.new_pin if new_pin else person.pin


class ChangesOutbox:
    """Keeps the changes written (and checks each is a valid PopulationChange)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None:
        for change in changes:
            change.model()
        self.count += len(changes)


Snapshot = dict[str, Any]


def snapshot(engine: Engine) -> Snapshot:
    """The population tables in comparable form (no surrogate ids, no wall-clock times)."""
    with engine.connect() as conn:
        return {
            "citizens": {
                r.pin: (r.version, r.record, r.field_times, r.deceased)
                for r in conn.execute(select(citizens))
            },
            "facts": Counter(
                (r.pin, name, json.dumps(value, sort_keys=True), r.event_id, counts)
                for r in conn.execute(select(field_facts))
                for name, value, counts in facts_of(r.facts, r.fields_off, r.active)
            ),
            "applied": {
                r.event_id: (r.pin, r.outcome, r.version, aware(r.occurred_at))
                for r in conn.execute(select(applied_events))
            },
            "lineage": Counter(
                (r.pin, r.version, tuple(r.fields), r.event_id, r.action)
                for r in conn.execute(select(lineage))
            ),
            "links": {r.old_pin: r.new_pin for r in conn.execute(select(pin_links))},
            "parked": set(conn.scalars(select(parked_events.c.event_id))),
        }


def differences(got: Snapshot, expected: Snapshot) -> str:
    """Where two snapshots differ (table, key: got / expected), for the assertion message."""
    lines = []
    for table, want in expected.items():
        have = got[table]
        if have == want:
            continue
        if isinstance(want, dict):
            for key in sorted(set(want) | set(have), key=str):
                if want.get(key) != have.get(key):
                    lines.append(f"{table} {key}: {have.get(key)!r} / {want.get(key)!r}")
        elif isinstance(want, Counter):
            lines.append(f"{table}: extra {have - want}, missing {want - have}")
        else:
            lines.append(f"{table}: {have!r} / {want!r}")
    return "\n".join(lines[:12])


def sqlite_engine() -> Engine:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    create_population_schema(engine)
    return engine


def fresh(url: str) -> Engine:
    """An engine on `url` with empty population tables."""
    engine = create_engine(url)
    create_population_schema(engine)
    names = ", ".join(
        t.name for t in (citizens, field_facts, applied_events, lineage, pin_links, parked_events)
    )
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names}"))
    return engine


def apply(engine: Engine, events: Sequence[Event]) -> list[Outcome]:
    applier = PopulationApplier(topology(), ChangesOutbox())
    with engine.begin() as conn:
        return applier.apply_batch(conn, [Incoming(e) for e in events])


class SqlMachine(RuleBasedStateMachine):
    """Random publications, applied in random batches; invariants after each batch."""

    urls: ClassVar[tuple[str, ...]] = ()
    """Other databases (PostgreSQL) that get the same batches and must end the same."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []
        self.deliveries: list[Event] = []
        self.cuts: list[list[Event]] = []
        self.pending: list[Event] = []
        self.engine = sqlite_engine()
        self.others = [fresh(url) for url in self.urls]
        self.refusals: Counter[tuple[str, str]] = Counter()
        self.born: dict[str, Event] = {}
        self.name_fixes: list[Event] = []
        self.seq = 0

    # ------------------------------------------------------------------ publishing

    def _publish(self, kind: str, pin: str | None, data: Any, **envelope: Any) -> Event:
        self.seq += 1
        occurred = T0 + timedelta(days=data.pop("_day", 0), minutes=data.pop("_minute", 0))
        recorded = (T0 + timedelta(days=200, seconds=self.seq)).isoformat()
        published = event(kind, pin, occurred, payload=data, recorded_at=recorded, **envelope)
        self.published.append(published)
        self.pending.append(published)
        return published

    @precondition(lambda self: len(self.born) < len(PEOPLE))
    @rule(data=st.data(), day=st.integers(0, 5))
    def birth(self, data: st.DataObject, day: int) -> None:
        """A birth (a second one for the same PIN comes as a duplicate or an amendment)."""
        person = data.draw(st.sampled_from([p for p in PEOPLE if p.pin not in self.born]))
        body = payload("BirthRegistered", person.pin, data.draw)
        self.born[person.pin] = self._publish("BirthRegistered", person.pin, {**body, "_day": day})

    @precondition(lambda self: bool(self.born))
    @rule(data=st.data(), given=st.sampled_from(GIVEN))
    def correct_birth_name(self, data: st.DataObject, given: str) -> None:
        """A clerical correction of the name on a birth record: a CivilStatusChanged."""
        born = data.draw(st.sampled_from(sorted(self.born.values(), key=lambda e: e.recorded_at)))
        name = {"family_name": "Nguyễn", "middle_name": None, "given_name": given}
        fix = self._publish(
            "CivilStatusChanged",
            born.subject_pin,
            {"name": name, "_day": (born.occurred_at - T0).days},
            change_type="CORRECTED",
            corrects_event_id=str(born.event_id),
        )
        self.name_fixes.append(fix)

    @precondition(lambda self: bool(self.name_fixes))
    @rule(data=st.data())
    def annul_name_fix(self, data: st.DataObject) -> None:
        """Annul a name correction: the birth's name is off, nothing would be left."""
        fix = data.draw(st.sampled_from(self.name_fixes))
        self._publish(
            "CivilStatusChanged",
            fix.subject_pin,
            {"_day": (fix.occurred_at - T0).days},
            change_type="ANNULLED",
            corrects_event_id=str(fix.event_id),
        )

    @rule(
        kind=st.sampled_from([k for k in KINDS if k != "BirthRegistered"]),
        person=st.sampled_from(PEOPLE),
        new_pin=st.booleans(),
        day=st.integers(0, 60),
        minute=st.integers(0, 59),
        data=st.data(),
    )
    def created(
        self, kind: str, person: Person, new_pin: bool, day: int, minute: int, data: st.DataObject
    ) -> None:
        pin = subject_of(kind, person, new_pin)
        body = payload(kind, pin, data.draw)
        self._publish(kind, pin, {**body, "_day": day, "_minute": minute})

    @precondition(lambda self: bool(self.published))
    @rule(
        kind=st.sampled_from(KINDS),
        annul=st.booleans(),
        same_type=st.booleans(),
        data=st.data(),
    )
    def amend(self, kind: str, annul: bool, same_type: bool, data: st.DataObject) -> None:
        """A correction or annulment of any earlier event, by an event of any type."""
        target = data.draw(st.sampled_from(self.published))
        kind = target.event_type if same_type else kind
        pin: str | None = target.subject_pin
        if kind == "AdministrativeUnitsReorganized":
            pin = None
        elif pin is None or (kind == "BirthRegistered" and pin not in {p.pin for p in PEOPLE}):
            pin = PEOPLE[0].pin
        if kind == "PinReestablished" and pin not in {p.new_pin for p in PEOPLE}:
            pin = next(p.new_pin for p in PEOPLE if p.pin == pin)
        body = payload(kind, pin, data.draw)
        day = (target.occurred_at - T0).days
        self._publish(
            kind,
            pin,
            {**body, "_day": day},
            change_type="ANNULLED" if annul else "CORRECTED",
            corrects_event_id=str(target.event_id),
        )

    @precondition(lambda self: bool(self.published))
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        """An earlier event delivered again (at-least-once delivery)."""
        self.pending.append(data.draw(st.sampled_from(self.published)))

    # ------------------------------------------------------------------ applying

    @precondition(lambda self: bool(self.pending))
    @rule(size=st.integers(1, 12))
    def deliver(self, size: int) -> None:
        """The next `size` pending events, as one batch, to every database."""
        batch, self.pending = self.pending[:size], self.pending[size:]
        self._apply(batch)

    def _apply(self, batch: list[Event]) -> None:
        self.cuts.append(batch)
        self.deliveries += batch
        outcomes = apply(self.engine, batch)
        for other in self.others:
            assert [(o.status, o.reason) for o in apply(other, batch)] == [
                (o.status, o.reason) for o in outcomes
            ]
        isolated = [o for o in outcomes if o.reason == "apply_failed"]
        assert not isolated, f"the rules did not handle {isolated[0].incoming.event.event_type}"
        for o in outcomes:
            if o.status == "dead_letter" and o.reason:
                self.refusals[(o.incoming.event.event_type, o.reason)] += 1

    @invariant()
    def citizens_keep_their_mandatory_fields(self) -> None:
        with self.engine.connect() as conn:
            for row in conn.execute(select(citizens.c.pin, citizens.c.record)):
                assert missing_mandatory(row.record) == [], row.pin
                Citizen.model_validate(row.record, context=TRUSTED)

    def teardown(self) -> None:
        try:
            if self.pending:
                self._apply(self.pending)
            if self.deliveries:
                self._compare()
        finally:
            for engine in [self.engine, *self.others]:
                engine.dispose()

    def _compare(self) -> None:
        dump = os.environ.get("DATABUS_POPULATION_MACHINE_DUMP")
        if dump:  # debugging: the deliveries and their cuts, to replay by hand
            with open(dump, "wb") as out:
                pickle.dump(self.cuts, out)
        expected = snapshot(self.engine)
        for other in self.others:
            found = snapshot(other)
            assert found == expected, "another database: " + differences(found, expected)
        at_once = sqlite_engine()
        replayed = sqlite_engine()
        try:
            apply(at_once, self.deliveries)
            found = snapshot(at_once)
            assert found == expected, "the batch cuts changed: " + differences(found, expected)
            for batch in self.cuts:
                apply(replayed, batch)
            found = snapshot(replayed)
            assert found == expected, "a replay from scratch: " + differences(found, expected)
        finally:
            at_once.dispose()
            replayed.dispose()
