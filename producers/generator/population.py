"""The initial population: families across provinces, and the history that registered them.

Families are grown as trees from a founding couple: children are born to couples, grow up, marry
(an in-law joins from outside the tree), and have children of their own. Everyone gets a death
date drawn from a Gompertz law; people who died before the life-event period are not in the
population database, so their children name them without a PIN (a name-only reference), and a
surviving spouse is a widow(er). The eldest married son may stay in his parents' household with his
wife and children; the others found their own, in the same province or where work is. Trees that
would overshoot the requested size are discarded; the last few places go to single adults living
alone, so the population has exactly N citizens.

Each citizen's history is then emitted in the JSON form: BirthRegistered at birth (the birth's unit
under the scheme in force on the date of birth), PinIssued (from 2016 for people born before, at
birth registration after), PermanentResidenceRegistered in their household, MarriageRegistered for
both spouses (and MarriageDissolved for a widow(er)) and IdentityCardIssued for those aged 14 or
more. Every event is recorded before the life-event period starts, and replaying them gives exactly
the citizen records written to citizens.jsonl.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from producers.generator.names import (
    FEMALE,
    MALE,
    ethnicity_for,
    family_name,
    middle_and_given,
)
from producers.generator.places import Places
from producers.generator.records import (
    DAY,
    EventFactory,
    Household,
    Person,
    Record,
    add_years,
    below,
    between,
    card_for,
    name_record,
    new_uuid,
    office_time,
    parent_ref,
)
from schemas.domain import PIN_PROVINCE_CODES, SCHEME_CUTOVER, VN63_TO_VN34, make_pin

FIRST_BIRTH_YEAR: Final = 1930
"""No citizen is born before; older people of the family trees died before the period."""
FIRST_FOUNDER_YEAR: Final = 1900
PIN_ERA: Final = date(2016, 1, 1).toordinal()
"""PINs were issued from 2016; people born before got theirs in the following years."""
_PIN_CAMPAIGN_END: Final = date(2021, 6, 30).toordinal()
_CHIP_CARD_WAVE: Final = (date(2021, 1, 1).toordinal(), date(2022, 12, 31).toordinal())
_BIRTH_MARGIN: Final = 120  # days between the last birth of the population and the period start
_MATRILINEAL: Final = frozenset(("Ê Đê", "Gia Rai"))
_YEAR: Final = 365.25
_MAX_TREE_TRIES: Final = 60
_BRANCH_OUT: Final = 0.5
"""Share of married children whose new family is left out of the sample: an in-law joins each
followed marriage, so following every branch would inflate each generation well beyond the
country's cohorts."""


@dataclass(eq=False)
class _Unit:
    """A married couple, where it lives, and whether it lives with the husband's parents."""

    husband: Person
    wife: Person
    married_ord: int
    location: int
    in_parents: bool = False


@dataclass(eq=False)
class _Tree:
    people: list[Person] = field(default_factory=list)
    units: list[_Unit] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)


class PopulationBuilder:
    """Builds the initial population and emits the events that registered it."""

    def __init__(self, rng: random.Random, places: Places, start: date, emit: EventFactory) -> None:
        self.rng = rng
        self.places = places
        self.emit = emit
        self.start_ord = start.toordinal()
        self.cutoff = self.start_ord - 1  # the last day of the initial history
        self.last_birth = self.start_ord - _BIRTH_MARGIN
        self.cutover = SCHEME_CUTOVER.toordinal()
        self._first_birth = date(FIRST_BIRTH_YEAR, 1, 1).toordinal()
        self.citizens: list[Person] = []
        self.pins: set[str] = set()
        self._household_seq = 0
        last_year = date.fromordinal(self.last_birth).year - 22
        self._last_founder_year = last_year

    @property
    def household_seq(self) -> int:
        """The last household number handed out."""
        return self._household_seq

    # --- building -----------------------------------------------------------------------------

    def build(self, count: int) -> list[Person]:
        """Create `count` citizens with their families and emit their history."""
        failures = 0
        while len(self.citizens) < count:
            left = count - len(self.citizens)
            tree = self._tree() if failures < _MAX_TREE_TRIES else self._single_tree()
            alive = [p for p in tree.people if self._alive(p)]
            if not alive:
                continue
            if len(alive) > left:
                failures += 1
                continue
            failures = 0
            self._commit(tree, alive)
        return self.citizens

    def _alive(self, person: Person) -> bool:
        return person.death_ord > self.cutoff and person.dob.year >= FIRST_BIRTH_YEAR

    def _random_dob(self, year: int) -> date:
        first = date(year, 1, 1).toordinal()
        return date.fromordinal(first + int(self.rng.random() * 365))

    def _death_ord(self, dob_ord: int, sex: str) -> int:
        """A death date from a Gompertz law (mode 79 for men, 84 for women: e0 about 73/78)."""
        rng = self.rng
        mode = 79.0 if sex == MALE else 84.0
        age = mode + math.log(-math.log(rng.random() or 1e-12)) / 0.1
        if age < 0.1:
            age = rng.random() * 5
        death = dob_ord + int(age * _YEAR)
        if dob_ord < self._first_birth:
            death = min(death, self.cutoff - between(rng, 30, 3650))
        return death

    def _person(
        self,
        tree: _Tree,
        sex: str,
        dob: date,
        ethnicity: str,
        family: str,
        hometown: str,
        birth_location: int,
    ) -> Person:
        middle, given = middle_and_given(self.rng, sex, dob.year, ethnicity)
        person = Person(name_record(family, middle, given), dob, sex, ethnicity, hometown)
        person.death_ord = self._death_ord(person.dob_ord, sex)
        vn34 = person.dob_ord >= self.cutover
        places = self.places
        person.birth_unit = places.unit(birth_location, vn34)
        person.pin_place = places.pin_place_code(birth_location, vn34)
        person.place_of_birth = places.place_of_birth(self.rng, birth_location, dob.year, vn34)
        tree.people.append(person)
        return person

    def _outsider(self, tree: _Tree, sex: str, dob: date, province: str) -> Person:
        """Someone born outside the tree (a founder, an in-law, a single): parents by name only."""
        rng = self.rng
        ethnicity = ethnicity_for(rng, province)
        family = family_name(rng, ethnicity, province)
        hometown = PIN_PROVINCE_CODES["0" + province]
        location = self.places.random_location(rng, province)
        person = self._person(tree, sex, dob, ethnicity, family, hometown, location)
        parent_year = max(dob.year - 27, 1880)
        if rng.random() < 0.7:
            middle, given = middle_and_given(rng, MALE, parent_year, ethnicity)
            person.father_ref = {"pin": None, "name": name_record(family, middle, given)}
        if rng.random() < 0.7:
            mother_family = family_name(rng, ethnicity, province)
            middle, given = middle_and_given(rng, FEMALE, parent_year, ethnicity)
            person.mother_ref = {"pin": None, "name": name_record(mother_family, middle, given)}
        return person

    def _marriage_ord(self, person: Person) -> int | None:
        rng = self.rng
        if rng.random() < 0.06:
            return None
        male = person.sex == MALE
        early = person.dob.year < 1960
        mean = (24.0 if early else 27.0) if male else (21.0 if early else 23.5)
        age = max(20.0 if male else 18.0, rng.gauss(mean, 3.0))
        return person.dob_ord + int(age * _YEAR)

    def _spouse_for(self, tree: _Tree, partner: Person, married: int, province: str) -> Person:
        """An in-law of the opposite sex, of marriageable age on `married` and alive then."""
        rng = self.rng
        if partner.sex == MALE:
            dob_ord = partner.dob_ord + between(rng, -365, 6 * 365)
            dob_ord = min(dob_ord, add_years(date.fromordinal(married), -18).toordinal())
            sex = FEMALE
        else:
            dob_ord = partner.dob_ord - between(rng, -365, 6 * 365)
            dob_ord = min(dob_ord, add_years(date.fromordinal(married), -20).toordinal())
            sex = MALE
        home = province if rng.random() < 0.75 else self.places.random_province(rng)
        spouse = self._outsider(tree, sex, date.fromordinal(dob_ord), home)
        if rng.random() < 0.85 and spouse.ethnicity != partner.ethnicity:
            spouse.ethnicity = partner.ethnicity
        for _ in range(20):
            if spouse.death_ord > married:
                break
            spouse.death_ord = self._death_ord(spouse.dob_ord, sex)
        else:
            spouse.death_ord = married + between(rng, 1, 20 * 365)
        return spouse

    def _household(self, tree: _Tree, head: Person, location: int, formed: int) -> Household:
        street = self.places.street(self.rng, location)
        household = Household(head, location, street, min(formed, self.cutoff - 1))
        tree.households.append(household)
        household.join(head, "CHU_HO")
        head.joined_ord = household.formed
        return household

    def _tree(self) -> _Tree:
        rng = self.rng
        tree = _Tree()
        year = between(rng, FIRST_FOUNDER_YEAR, self._last_founder_year)
        province = self.places.random_province(rng)
        founder = self._outsider(tree, MALE, self._random_dob(year), province)
        married = self._marriage_ord(founder)
        if married is None or married >= min(founder.death_ord, self.cutoff - 30):
            self._live_alone(tree, founder, province)
            return tree
        wife = self._spouse_for(tree, founder, married, province)
        location = self.places.random_location(rng, province)
        self._grow(tree, _Unit(founder, wife, married, location), None)
        return tree

    def _single_tree(self) -> _Tree:
        """One adult (18 to 45) living alone: fills the last places of the population."""
        tree = _Tree()
        year = date.fromordinal(self.cutoff).year - between(self.rng, 18, 45)
        province = self.places.random_province(self.rng)
        sex = MALE if self.rng.random() < 0.5 else FEMALE
        person = self._outsider(tree, sex, self._random_dob(year), province)
        person.death_ord = max(person.death_ord, self.start_ord + 365)
        self._live_alone(tree, person, province)
        return tree

    def _live_alone(self, tree: _Tree, person: Person, province: str) -> None:
        if not self._alive(person):
            return
        rng = self.rng
        adult = add_years(person.dob, 18).toordinal()
        formed = adult + below(rng, max(1, self.cutoff - 1 - adult))
        location = self.places.random_location(rng, self.places.migration_province(rng, province))
        self._household(tree, person, location, formed)

    def _grow(self, tree: _Tree, unit: _Unit, parents: Household | None) -> None:
        """Settle a couple in a household, bear their children, and let the children grow up."""
        rng = self.rng
        tree.units.append(unit)
        husband, wife = unit.husband, unit.wife
        husband.spouse, wife.spouse = wife, husband
        husband.married_ord = wife.married_ord = unit.married_ord
        household, child_relation = self._settle_unit(tree, unit, parents)
        children = self._bear_children(tree, unit)
        province = self.places.province63[unit.location]
        son_stayed = unit.in_parents
        for child in children:
            married = self._marriage_ord(child)
            if married is not None and married < min(child.death_ord, self.cutoff - 30):
                stays = (
                    child.sex == MALE
                    and not son_stayed
                    and household is not None
                    and household.head in (husband, wife)
                    and rng.random() < 0.45
                )
                if not stays and rng.random() < _BRANCH_OUT:
                    # Married into a family outside this sample: not part of the population.
                    child.death_ord = 0
                    continue
                spouse = self._spouse_for(tree, child, married, province)
                if child.sex == MALE:
                    son_stayed = son_stayed or stays
                    location = unit.location if stays else self._settle(province)
                    sub = _Unit(child, spouse, married, location, stays)
                    self._grow(tree, sub, household if stays else None)
                else:
                    self._grow(tree, _Unit(spouse, child, married, self._settle(province)), None)
            elif self._alive(child):
                age = (self.cutoff - child.dob_ord) / _YEAR
                if household is not None and (age < 22 or rng.random() < 0.85):
                    household.join(child, child_relation)
                    child.joined_ord = child.dob_ord
                elif age < 18:
                    # An orphan too young to live alone: registered on their own all the same.
                    self._household(tree, child, unit.location, child.dob_ord)
                else:
                    self._live_alone(tree, child, province)

    def _settle_unit(
        self, tree: _Tree, unit: _Unit, parents: Household | None
    ) -> tuple[Household | None, str]:
        """The couple's household (with the husband's parents, or their own) and what their
        children are to its head (CHAU or CON)."""
        rng = self.rng
        husband, wife = unit.husband, unit.wife
        alive_h, alive_w = self._alive(husband), self._alive(wife)
        if unit.in_parents and parents is not None:
            if alive_h:
                parents.join(husband, "CON")
                husband.joined_ord = parents.formed
            if alive_w:
                parents.join(wife, "CON_DAU")
                wife.joined_ord = unit.married_ord + between(rng, 0, 60)
            return parents, "CHAU"
        if not (alive_h or alive_w):
            return None, "CON"
        formed = unit.married_ord + between(rng, 0, 180)
        household = self._household(tree, husband if alive_h else wife, unit.location, formed)
        if alive_h and alive_w:
            household.join(wife, "VO")
            wife.joined_ord = unit.married_ord + between(rng, 0, 60)
        return household, "CON"

    def _settle(self, province: str) -> int:
        """Where a new couple from `province` lives: mostly nearby, sometimes where work is."""
        rng = self.rng
        if rng.random() < 0.75:
            return self.places.random_location(rng, province)
        return self.places.random_location(rng, self.places.migration_province(rng, province))

    def _bear_children(self, tree: _Tree, unit: _Unit) -> list[Person]:
        rng = self.rng
        husband, wife = unit.husband, unit.wife
        year = wife.dob.year
        if year < 1950:
            count = between(rng, 3, 6)
        elif year < 1965:
            count = between(rng, 2, 5)
        elif year < 1980:
            count = rng.choice((1, 2, 2, 3, 3, 4))
        elif year < 1995:
            count = rng.choice((1, 2, 2, 2, 3))
        else:
            count = rng.choice((0, 1, 2, 2, 2, 3))
        last = min(husband.death_ord, wife.death_ord, self.last_birth)
        too_old = add_years(wife.dob, 44).toordinal()
        day = unit.married_ord + between(rng, 300, 900)
        children: list[Person] = []
        for _ in range(count):
            if day > last or day > too_old:
                break
            children.append(self._child(tree, unit, date.fromordinal(day)))
            day += between(rng, 450, 1800)
        return children

    def _child(self, tree: _Tree, unit: _Unit, dob: date) -> Person:
        rng = self.rng
        father, mother = unit.husband, unit.wife
        boy_share = 0.527 if dob.year >= 2000 else 0.512
        sex = MALE if rng.random() < boy_share else FEMALE
        ethnicity = father.ethnicity if rng.random() < 0.9 else mother.ethnicity
        lineage = mother if ethnicity in _MATRILINEAL else father
        family = lineage.name["family_name"]
        child = self._person(
            tree, sex, dob, ethnicity, family, father.hometown, birth_location=unit.location
        )
        child.father, child.mother = father, mother
        father.children.append(child)
        mother.children.append(child)
        mother.last_birth_ord = child.dob_ord
        return child

    # --- committing and emitting --------------------------------------------------------------

    def _commit(self, tree: _Tree, alive: list[Person]) -> None:
        """Give the tree's living people PINs and households ids, then emit their history."""
        rng = self.rng
        for person in alive:
            person.idx = len(self.citizens)
            self.citizens.append(person)
            while True:
                pin = make_pin(person.pin_place, person.dob, person.sex, below(rng, 1_000_000))
                if pin not in self.pins:
                    break
            self.pins.add(pin)
            person.pin = pin
        for household in tree.households:
            self._household_seq += 1
            province = self.places.province63[household.location]
            household.id = f"HK{province}{self._household_seq:08d}"
        card_days: dict[int, int] = {}
        for person in alive:
            card_days[person.idx] = self._emit_registration(person)
        for unit in tree.units:
            self._emit_marriage(unit)
        for person in alive:
            self._emit_card(person, card_days[person.idx])

    def _emit_registration(self, person: Person) -> int:
        """BirthRegistered, PinIssued and PermanentResidenceRegistered; returns the PIN's day."""
        rng = self.rng
        emit = self.emit
        pin = person.pin
        occurred = person.dob_ord * DAY + int(rng.random() * DAY)
        birth_day = person.dob_ord + between(rng, 1, 60)
        recorded = office_time(rng, birth_day)
        emit(
            "BirthRegistered",
            pin,
            occurred,
            recorded,
            {
                "name": person.name,
                "date_of_birth": person.dob.isoformat(),
                "sex": person.sex,
                "place_of_birth": person.place_of_birth,
                "place_of_birth_registration": person.birth_unit,
                "hometown": person.hometown,
                "ethnicity": person.ethnicity,
                "nationalities": ["VN"],
                "father": parent_ref(person.father, person.father_ref),
                "mother": parent_ref(person.mother, person.mother_ref),
                "certificate_number": f"{between(rng, 1, 999)}/{date.fromordinal(birth_day).year}",
            },
        )
        if person.dob_ord < PIN_ERA:
            last = max(PIN_ERA, min(_PIN_CAMPAIGN_END, self.cutoff - 2))
            pin_day = max(PIN_ERA + below(rng, last - PIN_ERA + 1), birth_day + 1)
            pin_occurred = office_time(rng, pin_day)
            pin_recorded = pin_occurred + between(rng, 30, 3600)
        else:
            pin_day = birth_day
            pin_occurred = recorded + between(rng, 60, 1800)
            pin_recorded = pin_occurred + between(rng, 0, 600)
        emit(
            "PinIssued",
            pin,
            pin_occurred,
            pin_recorded,
            {
                "date_of_birth": person.dob.isoformat(),
                "sex": person.sex,
                "issued_on": emit.iso_day(pin_day),
            },
        )
        household = person.household
        assert household is not None
        day = max(person.joined_ord, household.formed, birth_day + between(rng, 1, 30))
        day = min(day, self.cutoff - 1)
        day = max(day, birth_day + 1)
        address = {
            "unit": self.places.unit(household.location, day >= self.cutover),
            "street": household.street,
        }
        occurred = office_time(rng, day)
        person.address = address
        person.last_occ = max(pin_occurred, occurred)
        person.perm_src = emit(
            "PermanentResidenceRegistered",
            pin,
            occurred,
            occurred + between(rng, 60, 3600),
            {
                "address": address,
                "household_id": household.id,
                "relation_to_head": person.relation,
                "registered_on": emit.iso_day(day),
            },
        )
        return pin_day

    def _emit_marriage(self, unit: _Unit) -> None:
        rng = self.rng
        emit = self.emit
        husband, wife = unit.husband, unit.wife
        alive = [p for p in (husband, wife) if p.in_database()]
        if not alive:
            return
        day = unit.married_ord
        registered_at = self.places.unit(unit.location, day >= self.cutover)
        certificate = f"{between(rng, 1, 400)}/{date.fromordinal(day).year}"
        occurred = office_time(rng, day)
        recorded = occurred + between(rng, 60, 3600)
        correlation = new_uuid(rng)
        for person in alive:
            spouse = wife if person is husband else husband
            recorded += between(rng, 1, 120)
            emit(
                "MarriageRegistered",
                person.pin,
                occurred,
                recorded,
                {
                    "spouse": spouse.ref(),
                    "married_on": emit.iso_day(day),
                    "registered_at": registered_at,
                    "certificate_number": certificate,
                },
                correlation=correlation,
            )
            person.marital = "MARRIED"
            person.last_occ = max(person.last_occ, occurred)
        if len(alive) == 1:
            survivor = alive[0]
            deceased = wife if survivor is husband else husband
            death_day = min(deceased.death_ord, self.cutoff)
            occurred = death_day * DAY + below(rng, DAY - 7200)
            record_day = min(death_day + between(rng, 1, 30), self.cutoff)
            recorded = max(office_time(rng, record_day), occurred + 60)
            emit(
                "MarriageDissolved",
                survivor.pin,
                occurred,
                recorded,
                {
                    "spouse": deceased.ref(),
                    "dissolved_on": emit.iso_day(death_day),
                    "reason": "SPOUSE_DECEASED",
                    "decision_number": None,
                },
            )
            survivor.marital = "WIDOWED"
            survivor.spouse = None
            survivor.last_occ = max(survivor.last_occ, occurred)

    def _emit_card(self, person: Person, pin_day: int) -> None:
        rng = self.rng
        first = max(pin_day + 1, add_years(person.dob, 14).toordinal())
        last = self.cutoff - 1
        if first > last or rng.random() < 0.05:
            return
        wave_first, wave_last = max(first, _CHIP_CARD_WAVE[0]), min(last, _CHIP_CARD_WAVE[1])
        if wave_first <= wave_last and rng.random() < 0.6:
            day = wave_first + below(rng, wave_last - wave_first + 1)
        else:
            day = first + below(rng, last - first + 1)
        card = card_for(person, date.fromordinal(day))
        occurred = office_time(rng, day)
        person.card = card
        person.last_occ = max(person.last_occ, occurred)
        person.card_src = self.emit(
            "IdentityCardIssued",
            person.pin,
            occurred,
            occurred + between(rng, 60, 7200),
            {"card": card},
        )


def reorganization_payload() -> Record:
    """The AdministrativeUnitsReorganized payload of 1 July 2025, at province level."""
    return {
        "from_scheme": "VN-63",
        "to_scheme": "VN-34",
        "effective_on": SCHEME_CUTOVER.isoformat(),
        "legal_instrument": "Nghị quyết 202/2025/QH15",
        "mappings": [
            {
                "from_province": old,
                "from_district": None,
                "from_commune": None,
                "to_province": new,
                "to_commune": None,
            }
            for old, new in sorted(VN63_TO_VN34.items())
        ],
    }
