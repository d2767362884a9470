"""Life events: births, deaths, marriages, divorces and name changes."""

from __future__ import annotations

import math
from datetime import date
from typing import Final

from producers.generator.life.state import Candidate, LifeState
from producers.generator.names import FEMALE, MALE, middle_and_given, other_given
from producers.generator.records import (
    DAY,
    Person,
    below,
    between,
    name_record,
    new_uuid,
    office_time,
)

_MATRILINEAL: Final = frozenset(("Ê Đê", "Gia Rai"))


class CivilStatusEvents(LifeState):
    """Births, deaths, marriages, divorces and name changes."""

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
            Candidate(
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
            Candidate(event_id, "DeathRegistered", person, person.pin, payload, occurred, recorded)
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
            Candidate(
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
