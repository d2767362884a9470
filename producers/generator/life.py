"""Life events after the initial population exists: a simulation in recorded-time order.

The period's working days (Monday to Saturday) are spread evenly over the event budget, so the
k-th life event is recorded about k/budget of the way through the period, in office hours. At each
step an action is drawn by weight (a birth to a married couple, a death weighted by age, a marriage
of two single adults, a divorce, a move, a temporary stay and its end, an identity card, a name
change, a PIN re-established, an emigration, a correction or an annulment) and applied to the
people it picks, who then carry the new state (name, PIN, spouse, household, address, card).

Per person, recorded times strictly increase and occurred times never go back, so applying the
events in recorded order never needs to reorder a citizen's facts. A dead or emigrated person gets
no event any more, except a correction (CORRECTED) or an annulment (ANNULLED) of one of their
earlier events; those name an earlier event of the same type and subject, and carry its corrected
payload (or, for an annulment, its payload unchanged).
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Callable
from datetime import date, timedelta
from itertools import accumulate
from typing import Final, NamedTuple

from producers.generator.names import FEMALE, MALE, middle_and_given, other_given
from producers.generator.places import Places
from producers.generator.population import reorganization_payload
from producers.generator.records import (
    CAN_CUOC_FROM,
    DAY,
    OFFICE_HOURS,
    OFFICE_OPEN,
    EventFactory,
    Household,
    Person,
    Pool,
    Record,
    below,
    between,
    card_for,
    name_record,
    new_uuid,
    office_time,
)
from schemas.domain import SCHEME_CUTOVER, make_pin

_YEAR: Final = 365.25
_MATRILINEAL: Final = frozenset(("Ê Đê", "Gia Rai"))
_RING: Final = 4096
_MAX_FAILURES: Final = 5000
_COUNTRIES: Final = (
    ("JP", 25), ("KR", 15), ("TW", 15), ("US", 12), ("AU", 8), ("DE", 5), ("CA", 5),
    ("FR", 3), ("GB", 3), ("SG", 3), ("MY", 2), ("CZ", 2), ("RU", 1), ("PL", 1),
)  # fmt: skip
_COUNTRY_CODES: Final = tuple(code for code, _ in _COUNTRIES)
_COUNTRY_CUM: Final = tuple(accumulate(weight for _, weight in _COUNTRIES))


class _Candidate(NamedTuple):
    """An earlier event that a correction or an annulment may target."""

    event_id: str
    event_type: str
    person: Person
    pin: str
    payload: Record
    occurred: int
    recorded: int
    previous: tuple[object, str] | None = None  # what an annulment restores, and its source


class _Ring:
    """The most recent candidates (bounded), drawn at random."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._items: list[_Candidate] = []
        self._next = 0

    def add(self, candidate: _Candidate) -> None:
        if len(self._items) < _RING:
            self._items.append(candidate)
        else:
            self._items[self._next] = candidate
            self._next = (self._next + 1) % _RING

    def pick(self) -> tuple[int, _Candidate] | None:
        if not self._items:
            return None
        at = below(self._rng, len(self._items))
        return at, self._items[at]

    def remove(self, at: int) -> None:
        last = self._items.pop()
        if at < len(self._items):
            self._items[at] = last
        if self._next > len(self._items):
            self._next = 0


class LifeSimulator:
    """Applies random life events to the population and emits them."""

    def __init__(
        self,
        rng: random.Random,
        places: Places,
        emit: EventFactory,
        people: list[Person],
        pins: set[str],
        start: date,
        end: date,
        household_seq: int,
    ) -> None:
        self.rng = rng
        self.places = places
        self.emit = emit
        self.people = people
        self.pins = pins
        self.start_ts = start.toordinal() * DAY
        self.end_day = end.toordinal()
        self.end_ts = self.end_day * DAY + DAY - 1
        self.cutover = SCHEME_CUTOVER.toordinal()
        self._household_seq = household_seq
        self.alive = Pool()
        self.couples = Pool()  # wives of living couples in Viet Nam
        self.temps = Pool()  # people with a temporary residence
        for person in people:
            person.last_rec = self.start_ts - 1  # the initial history is recorded before
            if person.active:
                self.alive.add(person)
                spouse = person.spouse
                if person.sex == FEMALE and spouse is not None and person.marital == "MARRIED":
                    self.couples.add(person)
        self.corrections = _Ring(rng)
        self.annulments = _Ring(rng)
        self.days = [
            d
            for d in range(start.toordinal(), self.end_day + 1)
            if date.fromordinal(d).weekday() != 6
        ]
        actions: list[tuple[Callable[[int], int], float]] = [
            (self._birth, 5.0),
            (self._death, 3.0),
            (self._marriage, 3.0),
            (self._divorce, 0.8),
            (self._move, 6.0),
            (self._temporary, 18.0),
            (self._temporary_end, 8.0),
            (self._card, 18.0),
            (self._name_change, 1.2),
            (self._reestablish, 0.25),
            (self._emigrate, 0.5),
            (self._correct, 3.0),
            (self._annul, 1.0),
        ]
        self._actions = [action for action, _ in actions]
        self._action_cum = list(accumulate(weight for _, weight in actions))
        self.reorganized = not start <= SCHEME_CUTOVER <= end

    # --- the loop -----------------------------------------------------------------------------

    def run(self, budget: int) -> int:
        """Emit about `budget` life events over the period; returns how many were emitted."""
        rng = self.rng
        emitted = 0
        failures = 0
        days = self.days
        cum = self._action_cum
        total = cum[-1]
        while emitted < budget and days:
            position = emitted / budget * len(days)
            index = int(position)
            t = days[index] * DAY + OFFICE_OPEN + int((position - index) * OFFICE_HOURS)
            if not self.reorganized and t // DAY >= self.cutover:
                emitted += self._reorganize()
            action = self._actions[bisect(cum, rng.random() * total)]
            count = action(t)
            if count:
                emitted += count
                failures = 0
            else:
                failures += 1
                if failures > _MAX_FAILURES:
                    break
        if not self.reorganized:
            emitted += self._reorganize()
        return emitted

    def _reorganize(self) -> int:
        self.reorganized = True
        occurred = self.cutover * DAY
        self.emit(
            "AdministrativeUnitsReorganized",
            None,
            occurred,
            occurred + 8 * 3600,
            reorganization_payload(),
        )
        return 1

    # --- helpers ------------------------------------------------------------------------------

    def _at(self, t: int, *people: Person) -> int | None:
        """The recorded time of an event about `people` at `t`: after their last one."""
        for person in people:
            if person.last_rec >= t:
                t = person.last_rec + 1
        return t if t <= self.end_ts else None

    def _later(self, after: int, days: int) -> int | None:
        """A follow-up's recorded time: office hours within `days` days after `after`."""
        rng = self.rng
        day = after // DAY + between(rng, 0, days)
        recorded = office_time(rng, day)
        if recorded <= after:
            recorded = after + between(rng, 300, 3600)
        return recorded if recorded <= self.end_ts else None

    def _occurred(self, recorded: int, lag: int, *people: Person) -> int:
        """When the fact happened: up to `lag` seconds before, never before their last fact."""
        occurred = recorded - int(self.rng.random() * lag)
        for person in people:
            occurred = max(occurred, person.last_occ)
        return occurred

    @staticmethod
    def _touch(person: Person, occurred: int, recorded: int) -> None:
        person.last_rec = max(person.last_rec, recorded)
        person.last_occ = max(person.last_occ, occurred)

    def _age(self, person: Person, day: int) -> float:
        return (day - person.dob_ord) / _YEAR

    def _pick(self, accept: Callable[[Person], bool], tries: int = 30) -> Person | None:
        for _ in range(tries):
            person = self.alive.pick(self.rng)
            if person is None:
                return None
            if accept(person):
                return person
        return None

    def _new_pin(self, person: Person) -> str:
        while True:
            pin = make_pin(person.pin_place, person.dob, person.sex, below(self.rng, 1_000_000))
            if pin not in self.pins:
                self.pins.add(pin)
                return pin

    def _new_household(self, head: Person, location: int, day: int) -> Household:
        self._household_seq += 1
        vn34 = day >= self.cutover
        province = self.places.province34[location] if vn34 else self.places.province63[location]
        household = Household(head, location, self.places.street(self.rng, location), day)
        household.id = f"HK{province}{self._household_seq:08d}"
        return household

    def _elsewhere(self, person: Person) -> int:
        """A location to move to, other than the person's current one."""
        places = self.places
        province = places.migration_province(self.rng, places.province63[person.location])
        for _ in range(5):
            location = places.random_location(self.rng, province)
            if location != person.location:
                return location
        return location

    def _register(
        self,
        person: Person,
        household: Household,
        relation: str,
        not_before: int,
        correlation: str | None,
    ) -> int:
        """PermanentResidenceRegistered of `person` in `household`; 1 if emitted, else 0."""
        occurred = max(not_before, person.last_rec + 1)
        recorded = occurred + between(self.rng, 60, 1800)
        if recorded > self.end_ts:
            return 0
        day = occurred // DAY
        address = {
            "unit": self.places.unit(household.location, day >= self.cutover),
            "street": household.street,
        }
        household.join(person, relation)
        payload = {
            "address": address,
            "household_id": household.id,
            "relation_to_head": relation,
            "registered_on": self.emit.iso_day(day),
        }
        event_id = self.emit(
            "PermanentResidenceRegistered",
            person.pin,
            occurred,
            recorded,
            payload,
            correlation=correlation,
        )
        person.address = address
        person.perm_src = event_id
        self._touch(person, occurred, recorded)
        self.corrections.add(
            _Candidate(
                event_id,
                "PermanentResidenceRegistered",
                person,
                person.pin,
                payload,
                occurred,
                recorded,
            )
        )
        return 1

    def _head_of_many(self, person: Person) -> bool:
        household = person.household
        return (
            household is not None
            and household.head is person
            and any(m.active and m is not person for m in household.members)
        )

    def _leave(self, person: Person) -> None:
        """The person is no longer in Viet Nam's population (dead or emigrated)."""
        person.active = False
        self.alive.discard(person)
        self.temps.discard(person)
        self.couples.discard(person)
        if person.spouse is not None:
            self.couples.discard(person.spouse)
        household = person.household
        if household is not None and person in household.members:
            household.members.remove(person)

    # --- civil status -------------------------------------------------------------------------

    def _parents(self, day: int) -> tuple[Person, Person] | None:
        """A married couple who may have a child now: (husband, wife), or None."""
        rng = self.rng
        odds = (1.0, 0.7, 0.3, 0.08)
        for _ in range(30):
            wife = self.couples.pick(rng)
            if wife is None:
                return None
            husband = wife.spouse
            if (
                husband is None
                or not husband.active
                or wife.sex != FEMALE
                or husband.sex != MALE
                or not 18 <= self._age(wife, day) <= 44
                or day - wife.last_birth_ord < 450
                or wife.married_ord + 240 > day - 45
                or rng.random() > odds[min(len(wife.children), 3)]
            ):
                continue
            return husband, wife
        return None

    def _newborn(self, husband: Person, wife: Person, dob: date) -> Person:
        """The child (with a new PIN), registered where the mother lives."""
        rng = self.rng
        sex = MALE if rng.random() < 0.527 else FEMALE
        ethnicity = husband.ethnicity if rng.random() < 0.9 else wife.ethnicity
        lineage = wife if ethnicity in _MATRILINEAL else husband
        middle, given = middle_and_given(rng, sex, dob.year, ethnicity)
        name = name_record(lineage.name["family_name"], middle, given)
        child = Person(name, dob, sex, ethnicity, husband.hometown)
        places = self.places
        vn34 = child.dob_ord >= self.cutover
        location = wife.location
        child.birth_unit = places.unit(location, vn34)
        child.pin_place = places.pin_place_code(location, vn34)
        child.place_of_birth = places.place_of_birth(rng, location, dob.year, vn34)
        child.father, child.mother = husband, wife
        child.idx = len(self.people)
        self.people.append(child)
        child.pin = self._new_pin(child)
        return child

    def _birth(self, t: int) -> int:
        rng = self.rng
        day = t // DAY
        if t > self.end_ts - 4 * 3600:
            return 0
        parents = self._parents(day)
        if parents is None:
            return 0
        husband, wife = parents
        household = wife.household or husband.household
        if household is None:
            return 0
        dob_ord = day - between(rng, 1, 45)
        occurred = dob_ord * DAY + below(rng, DAY)
        child = self._newborn(husband, wife, date.fromordinal(dob_ord))
        dob, sex, name, ethnicity = child.dob, child.sex, child.name, child.ethnicity
        correlation = new_uuid(rng)
        recorded = t
        birth_payload = {
            "name": name,
            "date_of_birth": dob.isoformat(),
            "sex": sex,
            "place_of_birth": child.place_of_birth,
            "place_of_birth_registration": child.birth_unit,
            "hometown": child.hometown,
            "ethnicity": ethnicity,
            "nationalities": ["VN"],
            "father": husband.ref(),
            "mother": wife.ref(),
            "certificate_number": f"{between(rng, 1, 999)}/{date.fromordinal(day).year}",
        }
        birth_id = self.emit(
            "BirthRegistered", child.pin, occurred, recorded, birth_payload, correlation=correlation
        )
        child.name_src = birth_id
        self.corrections.add(
            _Candidate(
                birth_id, "BirthRegistered", child, child.pin, birth_payload, occurred, recorded
            )
        )
        pin_occurred = recorded + between(rng, 60, 1800)
        pin_recorded = pin_occurred + between(rng, 0, 600)
        self.emit(
            "PinIssued",
            child.pin,
            pin_occurred,
            pin_recorded,
            {
                "date_of_birth": dob.isoformat(),
                "sex": sex,
                "issued_on": self.emit.iso_day(pin_occurred // DAY),
            },
            correlation=correlation,
        )
        self._touch(child, pin_occurred, pin_recorded)
        head = household.head
        if head is husband or head is wife:
            relation = "CON"
        elif head in (husband.father, husband.mother, wife.father, wife.mother):
            relation = "CHAU"
        else:
            relation = "KHAC"
        register_day = min(day + rng.choice((0, 0, 1, 3, 7, 14)), self.end_day)
        not_before = office_time(rng, register_day) if register_day > day else pin_recorded + 60
        count = 2 + self._register(child, household, relation, not_before, correlation)
        husband.children.append(child)
        wife.children.append(child)
        wife.last_birth_ord = dob_ord
        self.alive.add(child)
        return count

    def _death(self, t: int) -> int:
        rng = self.rng
        day = t // DAY
        for _ in range(400):
            person = self.alive.pick(rng)
            if person is None:
                return 0
            age = self._age(person, day)
            hazard = math.exp(0.1 * (age - 95)) + (0.01 if age < 1 else 0.002)
            if rng.random() < hazard:
                break
        else:
            return 0
        recorded = self._at(t, person)
        if recorded is None:
            return 0
        occurred = self._occurred(recorded, 15 * DAY, person)
        death_day = occurred // DAY
        province = self.places.province_name(person.location, death_day >= self.cutover)
        correlation = new_uuid(rng)
        payload = {
            "date_of_death": self.emit.iso_day(death_day),
            "place_of_death": rng.choice(
                (f"Bệnh viện Đa khoa {province}", f"Tại nhà, {province}", province)
            ),
            "certificate_number": f"KT-{between(rng, 1, 999)}/{date.fromordinal(day).year}",
        }
        event_id = self.emit(
            "DeathRegistered", person.pin, occurred, recorded, payload, correlation=correlation
        )
        self._touch(person, occurred, recorded)
        self.corrections.add(
            _Candidate(event_id, "DeathRegistered", person, person.pin, payload, occurred, recorded)
        )
        person.alive = False
        self._leave(person)
        count = 1
        spouse = person.spouse if person.marital == "MARRIED" else None
        if spouse is not None and spouse.active:
            later = self._later(max(recorded, spouse.last_rec), 3)
            if later is not None:
                occurred_s = max(occurred, spouse.last_occ)
                self.emit(
                    "MarriageDissolved",
                    spouse.pin,
                    occurred_s,
                    later,
                    {
                        "spouse": person.ref(),
                        "dissolved_on": self.emit.iso_day(occurred_s // DAY),
                        "reason": "SPOUSE_DECEASED",
                        "decision_number": None,
                    },
                    correlation=correlation,
                )
                self._touch(spouse, occurred_s, later)
                spouse.marital = "WIDOWED"
                spouse.spouse = None
                count += 1
        return count

    def _single(self, sex: str, low: int, high: int, day: int) -> Person | None:
        return self._pick(
            lambda p: p.sex == sex and p.marital != "MARRIED" and low <= self._age(p, day) <= high,
            60,
        )

    @staticmethod
    def _related(a: Person, b: Person) -> bool:
        return (
            (a.father is not None and a.father is b.father)
            or (a.mother is not None and a.mother is b.mother)
            or a in (b.father, b.mother)
            or b in (a.father, a.mother)
        )

    def _marriage(self, t: int) -> int:
        rng = self.rng
        day = t // DAY
        man = self._single(MALE, 20, 50, day)
        woman = self._single(FEMALE, 18, 45, day)
        if man is None or woman is None or self._related(man, woman):
            return 0
        recorded = self._at(t, man, woman)
        if recorded is None or recorded + 60 > self.end_ts:
            return 0
        occurred = self._occurred(recorded, 3600, man, woman)
        married = occurred // DAY
        certificate = f"{between(rng, 1, 400)}/{date.fromordinal(married).year}"
        registered_at = self.places.unit(woman.location, married >= self.cutover)
        correlation = new_uuid(rng)
        for person, spouse, at in ((man, woman, recorded), (woman, man, recorded + 1)):
            self.emit(
                "MarriageRegistered",
                person.pin,
                occurred,
                at,
                {
                    "spouse": spouse.ref(),
                    "married_on": self.emit.iso_day(married),
                    "registered_at": registered_at,
                    "certificate_number": certificate,
                },
                correlation=correlation,
            )
            self._touch(person, occurred, at)
            person.marital = "MARRIED"
            person.spouse = spouse
            person.married_ord = married
        self.couples.add(woman)
        return 2 + self._settle_couple(man, woman, recorded, correlation)

    def _settle_couple(self, man: Person, woman: Person, after: int, correlation: str) -> int:
        """After a marriage: the wife joins the husband's household, or they found their own."""
        rng = self.rng
        not_before = office_time(rng, min(after // DAY + between(rng, 1, 30), self.end_day))
        home = man.household
        if home is None or woman.household is None:
            return 0
        if home.head is man:
            if self._head_of_many(woman):
                return 0
            return self._register(woman, home, "VO", not_before, correlation)
        if self._head_of_many(woman):
            return self._register(man, woman.household, "CHONG", not_before, correlation)
        if home.head in (man.father, man.mother) and rng.random() < 0.6:
            return self._register(woman, home, "CON_DAU", not_before, correlation)
        household = self._new_household(man, self._elsewhere(man), not_before // DAY)
        count = self._register(man, household, "CHU_HO", not_before, correlation)
        if count:
            count += self._register(woman, household, "VO", not_before + 60, correlation)
        return count

    def _divorce(self, t: int) -> int:
        rng = self.rng
        for _ in range(10):
            wife = self.couples.pick(rng)
            if wife is None:
                return 0
            husband = wife.spouse
            if husband is not None and husband.active and husband.spouse is wife:
                break
        else:
            return 0
        recorded = self._at(t, husband, wife)
        if recorded is None or recorded + 60 > self.end_ts:
            return 0
        occurred = self._occurred(recorded, 20 * DAY, husband, wife)
        day = occurred // DAY
        annulled = rng.random() < 0.05
        decision = f"{between(rng, 1, 300)}/{date.fromordinal(day).year}/QDST-HNGD"
        correlation = new_uuid(rng)
        for person, spouse, at in ((wife, husband, recorded), (husband, wife, recorded + 1)):
            self.emit(
                "MarriageDissolved",
                person.pin,
                occurred,
                at,
                {
                    "spouse": spouse.ref(),
                    "dissolved_on": self.emit.iso_day(day),
                    "reason": "ANNULMENT" if annulled else "DIVORCE",
                    "decision_number": decision,
                },
                correlation=correlation,
            )
            self._touch(person, occurred, at)
            person.marital = "SINGLE" if annulled else "DIVORCED"
            person.spouse = None
        self.couples.discard(wife)
        count = 2
        if rng.random() < 0.5:
            mover = wife if not self._head_of_many(wife) else husband
            if not self._head_of_many(mover):
                day_ord = min(recorded // DAY + between(rng, 1, 60), self.end_day)
                household = self._new_household(mover, self._elsewhere(mover), day_ord)
                count += self._register(
                    mover, household, "CHU_HO", office_time(rng, day_ord), correlation
                )
        return count

    def _name_change(self, t: int) -> int:
        rng = self.rng
        person = self.alive.pick(rng)
        if person is None:
            return 0
        recorded = self._at(t, person)
        if recorded is None:
            return 0
        occurred = self._occurred(recorded, 3 * DAY, person)
        old = person.name
        given = other_given(rng, person.sex, person.dob.year, old["given_name"])
        name = name_record(old["family_name"], old["middle_name"], given)
        year = date.fromordinal(occurred // DAY).year
        payload = {
            "name": name,
            "sex": None,
            "ethnicity": None,
            "nationalities": None,
            "decision_number": f"{between(rng, 1, 999)}/{year}/QD-UBND",
        }
        event_id = self.emit("CivilStatusChanged", person.pin, occurred, recorded, payload)
        self._touch(person, occurred, recorded)
        self.annulments.add(
            _Candidate(
                event_id,
                "CivilStatusChanged",
                person,
                person.pin,
                payload,
                occurred,
                recorded,
                (old, person.name_src),
            )
        )
        person.name = name
        person.name_src = event_id
        return 1

    # --- residence ----------------------------------------------------------------------------

    def _move(self, t: int) -> int:
        rng = self.rng
        day = t // DAY
        person = self._pick(lambda p: self._age(p, day) >= 18 and p.household is not None)
        if person is None:
            return 0
        household = person.household
        assert household is not None
        correlation = new_uuid(rng)
        spouse = person.spouse if person.marital == "MARRIED" else None
        if spouse is not None and household.head is spouse:
            person = spouse
        count = 0
        if household.head is person:
            # The whole household moves: same id, new place.
            members = [m for m in household.members if m.active]
            household.location = self._elsewhere(person)
            household.street = self.places.street(rng, household.location)
            at = t
            for member in [person] + [m for m in members if m is not person]:
                count += self._register(member, household, member.relation, at, correlation)
                at += between(rng, 30, 300)
            return count
        movers = [person]
        if spouse is not None and spouse.active and spouse.household is household:
            movers.append(spouse)
            movers.extend(
                child
                for child in person.children
                if child.active
                and child.household is household
                and self._age(child, day) < 18
                and child.mother in movers
                and child.father in movers
            )
        head = next((m for m in movers[:2] if m.sex == MALE), person)
        new = self._new_household(head, self._elsewhere(person), day)
        at = t
        for mover in [head] + [m for m in movers if m is not head]:
            if mover is head:
                relation = "CHU_HO"
            elif mover in movers[:2]:
                relation = "VO" if head.sex == MALE else "CHONG"
            else:
                relation = "CON"
            done = self._register(mover, new, relation, at, correlation)
            if not done and mover is head:
                return 0
            count += done
            at += between(rng, 30, 300)
        return count

    def _temporary(self, t: int) -> int:
        rng = self.rng
        day = t // DAY

        def accept(p: Person) -> bool:
            age = self._age(p, day)
            return 15 <= age <= 65 and (18 <= age <= 35 or rng.random() < 0.35)

        person = self._pick(accept)
        if person is None:
            return 0
        count = 0
        if person.temp is not None:
            count += self._deregister_temporary(person, t, "MOVED_AWAY")
            if not count:
                return 0
        recorded = self._at(t, person)
        if recorded is None:
            return count
        occurred = self._occurred(recorded, 1800, person)
        registered = occurred // DAY
        location = self._elsewhere(person)
        address = {
            "unit": self.places.unit(location, registered >= self.cutover),
            "street": self.places.street(rng, location),
        }
        until = registered + between(rng, 180, 730)
        payload = {
            "address": address,
            "registered_on": self.emit.iso_day(registered),
            "valid_until": self.emit.iso_day(until),
        }
        event_id = self.emit(
            "TemporaryResidenceRegistered", person.pin, occurred, recorded, payload
        )
        self._touch(person, occurred, recorded)
        person.temp = address
        person.temp_until = until
        person.temp_src = event_id
        self.temps.add(person)
        candidate = _Candidate(
            event_id,
            "TemporaryResidenceRegistered",
            person,
            person.pin,
            payload,
            occurred,
            recorded,
        )
        self.corrections.add(candidate)
        self.annulments.add(candidate)
        return count + 1

    def _deregister_temporary(self, person: Person, t: int, reason: str) -> int:
        recorded = self._at(t, person)
        if recorded is None:
            return 0
        occurred = self._occurred(recorded, 3600, person)
        self.emit(
            "ResidenceDeregistered",
            person.pin,
            occurred,
            recorded,
            {
                "residence_kind": "TEMPORARY",
                "deregistered_on": self.emit.iso_day(occurred // DAY),
                "reason": reason,
            },
        )
        self._touch(person, occurred, recorded)
        person.temp = None
        person.temp_src = ""
        self.temps.discard(person)
        return 1

    def _temporary_end(self, t: int) -> int:
        person = self.temps.pick(self.rng)
        if person is None:
            return 0
        if person.temp_until < t // DAY:
            reason = "EXPIRED"
        else:
            reason = self.rng.choice(("MOVED_AWAY", "MOVED_AWAY", "MOVED_PERMANENTLY"))
        return self._deregister_temporary(person, t, reason)

    def _emigrate(self, t: int) -> int:
        rng = self.rng
        day = t // DAY
        person = self._pick(lambda p: 18 <= self._age(p, day) <= 60 and not self._head_of_many(p))
        if person is None:
            return 0
        recorded = self._at(t, person)
        if recorded is None or recorded + 2 * DAY > self.end_ts:
            return 0
        occurred = self._occurred(recorded, 20 * DAY, person)
        country = _COUNTRY_CODES[bisect(_COUNTRY_CUM, rng.random() * _COUNTRY_CUM[-1])]
        correlation = new_uuid(rng)
        self.emit(
            "Emigrated",
            person.pin,
            occurred,
            recorded,
            {"destination_country": country, "departed_on": self.emit.iso_day(occurred // DAY)},
            correlation=correlation,
        )
        later = self._later(recorded, 2) or recorded + 60
        self.emit(
            "ResidenceDeregistered",
            person.pin,
            later - between(rng, 0, 600),
            later,
            {
                "residence_kind": "PERMANENT",
                "deregistered_on": self.emit.iso_day(later // DAY),
                "reason": "SETTLED_ABROAD",
            },
            correlation=correlation,
        )
        self._touch(person, occurred, later)
        self._leave(person)
        return 2

    # --- identity -----------------------------------------------------------------------------

    def _card(self, t: int) -> int:
        rng = self.rng
        day = t // DAY
        today = self.emit.iso_day(day)
        soon = self.emit.iso_day(day + 180)
        child_cards = day >= CAN_CUOC_FROM.toordinal()

        def accept(p: Person) -> bool:
            if self._age(p, day) < 14 and not (child_cards and rng.random() < 0.05):
                return False
            card = p.card
            if card is None or (card["expires_on"] is not None and card["expires_on"] <= soon):
                return True
            return rng.random() < 0.1

        person = self._pick(accept)
        if person is None:
            return 0
        recorded = self._at(t, person)
        if recorded is None:
            return 0
        occurred = self._occurred(recorded, 1800, person)
        issued = occurred // DAY
        card = card_for(person, date.fromordinal(issued))
        if card["expires_on"] is not None and card["expires_on"] <= today:
            return 0
        return self._issue_card(person, card, occurred, recorded, None)

    def _issue_card(
        self,
        person: Person,
        card: Record,
        occurred: int,
        recorded: int,
        correlation: str | None,
    ) -> int:
        payload = {"card": card}
        event_id = self.emit(
            "IdentityCardIssued",
            person.pin,
            occurred,
            recorded,
            payload,
            correlation=correlation,
        )
        self._touch(person, occurred, recorded)
        self.annulments.add(
            _Candidate(
                event_id,
                "IdentityCardIssued",
                person,
                person.pin,
                payload,
                occurred,
                recorded,
                (person.card, person.card_src),
            )
        )
        person.card = card
        person.card_src = event_id
        return 1

    def _reestablish(self, t: int) -> int:
        rng = self.rng
        day = t // DAY
        person = self._pick(lambda p: 18 <= self._age(p, day) <= 70)
        if person is None:
            return 0
        recorded = self._at(t, person)
        if recorded is None or recorded + 9 * DAY > self.end_ts:
            return 0
        occurred = self._occurred(recorded, 3600, person)
        correlation = new_uuid(rng)
        count = 0
        if rng.random() < 0.6:
            reason = "GENDER_REDETERMINATION"
            sex = FEMALE if person.sex == MALE else MALE
            old = person.name
            given = other_given(rng, sex, person.dob.year, old["given_name"])
            middle = old["middle_name"]
            if middle in ("Văn", "Thị"):
                middle = "Văn" if sex == MALE else "Thị"
            name = name_record(old["family_name"], middle, given)
            year = date.fromordinal(occurred // DAY).year
            person.name_src = self.emit(
                "CivilStatusChanged",
                person.pin,
                occurred,
                recorded,
                {
                    "name": name,
                    "sex": sex,
                    "ethnicity": None,
                    "nationalities": None,
                    "decision_number": f"{between(rng, 1, 999)}/{year}/QD-UBND",
                },
                correlation=correlation,
            )
            self._touch(person, occurred, recorded)
            person.name = name
            person.sex = sex
            count += 1
        else:
            reason = "ISSUANCE_ERROR"
        old_pin = person.pin
        new_pin = self._new_pin(person)
        if count:  # after the civil status change, within days
            recorded = self._later(person.last_rec, 3) or person.last_rec + 600
            occurred = max(recorded - between(rng, 0, 600), person.last_occ)
        effective = occurred // DAY
        self.emit(
            "PinReestablished",
            new_pin,
            occurred,
            recorded,
            {
                "old_pin": old_pin,
                "reason": reason,
                "date_of_birth": person.dob.isoformat(),
                "sex": person.sex,
                "effective_on": self.emit.iso_day(effective),
            },
            correlation=correlation,
        )
        self._touch(person, occurred, recorded)
        person.pin_history.append(
            {"pin": old_pin, "replaced_on": self.emit.iso_day(effective), "reason": reason}
        )
        person.pin = new_pin
        count += 1
        if person.card is not None or self._age(person, day) >= 14:
            recorded = self._later(person.last_rec, 5) or person.last_rec + 3600
            occurred = max(recorded - between(rng, 0, 1800), person.last_occ)
            card = card_for(person, date.fromordinal(occurred // DAY))
            count += self._issue_card(person, card, occurred, recorded, correlation)
        return count

    # --- corrections and annulments -----------------------------------------------------------

    def _correct(self, t: int) -> int:
        return self._amend(t, self.corrections, "CORRECTED")

    def _annul(self, t: int) -> int:
        return self._amend(t, self.annulments, "ANNULLED")

    def _amend(self, t: int, ring: _Ring, change: str) -> int:
        for _ in range(8):
            picked = ring.pick()
            if picked is None:
                return 0
            at, candidate = picked
            person = candidate.person
            if person.pin != candidate.pin:
                ring.remove(at)
                continue
            recorded = self._at(max(t, candidate.recorded + 1), person)
            if recorded is None:
                return 0
            if change == "CORRECTED":
                payload = self._corrected(candidate)
            else:
                payload = self._annulled(candidate)
            ring.remove(at)
            if payload is None:
                continue
            self.emit(
                candidate.event_type,
                candidate.pin,
                candidate.occurred,
                recorded,
                payload,
                change=change,
                corrects=candidate.event_id,
            )
            person.last_rec = recorded
            return 1
        return 0

    def _corrected(self, candidate: _Candidate) -> Record | None:
        """The corrected payload of an earlier event (and the state it implies), or None."""
        rng = self.rng
        person = candidate.person
        original = candidate.payload
        kind = candidate.event_type
        if kind == "BirthRegistered":
            if person.name_src == candidate.event_id and rng.random() < 0.6:
                old = original["name"]
                given = other_given(rng, original["sex"], person.dob.year, old["given_name"])
                name = name_record(old["family_name"], old["middle_name"], given)
                person.name = name
                return {**original, "name": name}
            place = original["place_of_birth"]
            province = self.places.province_name(
                person.location, candidate.occurred // DAY >= self.cutover
            )
            options = [
                p
                for p in (f"Bệnh viện Đa khoa {province}", f"Trạm Y tế xã, {province}", province)
                if p != place
            ]
            return {**original, "place_of_birth": rng.choice(options)}
        if kind == "PermanentResidenceRegistered":
            if person.perm_src != candidate.event_id:
                return None
            address = original["address"]
            street = self.places.street(rng, person.location)
            if street == address["street"]:
                street = f"{street}, tổ {between(rng, 1, 30)}"
            corrected = {"unit": address["unit"], "street": street}
            person.address = corrected
            person.street = street
            return {**original, "address": corrected}
        if kind == "TemporaryResidenceRegistered":
            if person.temp_src != candidate.event_id:
                return None
            until = date.fromisoformat(original["valid_until"]) + timedelta(
                days=between(rng, 30, 365)
            )
            person.temp_until = until.toordinal()
            return {**original, "valid_until": until.isoformat()}
        if kind == "DeathRegistered":
            place = original["place_of_death"]
            province = self.places.province_name(
                person.location, candidate.occurred // DAY >= self.cutover
            )
            options = [
                p
                for p in (f"Bệnh viện Đa khoa {province}", f"Tại nhà, {province}", province)
                if p != place
            ]
            return {**original, "place_of_death": rng.choice(options)}
        return None

    def _annulled(self, candidate: _Candidate) -> Record | None:
        """The payload of the event to annul (and the state restored), or None if stale."""
        person = candidate.person
        kind = candidate.event_type
        previous = candidate.previous
        if kind == "TemporaryResidenceRegistered":
            if person.temp_src != candidate.event_id:
                return None
            person.temp = None
            person.temp_src = ""
            self.temps.discard(person)
        elif kind == "CivilStatusChanged":
            if person.name_src != candidate.event_id or previous is None:
                return None
            name, source = previous
            assert isinstance(name, dict)
            person.name = name
            person.name_src = source
        elif kind == "IdentityCardIssued":
            if person.card_src != candidate.event_id or previous is None:
                return None
            card, source = previous
            person.card = card if isinstance(card, dict) else None
            person.card_src = source
        else:
            return None
        return candidate.payload

    @property
    def household_seq(self) -> int:
        """The last household number handed out."""
        return self._household_seq
