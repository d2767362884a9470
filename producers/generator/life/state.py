"""The simulated population's state, and the helpers every family of life events uses."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Final, NamedTuple

from producers.generator.names import FEMALE
from producers.generator.places import Places
from producers.generator.population import reorganization_payload
from producers.generator.records import (
    DAY,
    EventFactory,
    Household,
    Person,
    Pool,
    Record,
    below,
    between,
    office_time,
)
from schemas.domain import SCHEME_CUTOVER, make_pin

_YEAR: Final = 365.25
_RING: Final = 4096


class Candidate(NamedTuple):
    """An earlier event that a correction or an annulment may target."""

    event_id: str
    event_type: str
    person: Person
    pin: str
    payload: Record
    occurred: int
    recorded: int
    previous: tuple[object, str] | None = None  # what an annulment restores, and its source


class Ring:
    """The most recent candidates (bounded), drawn at random."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._items: list[Candidate] = []
        self._next = 0

    def add(self, candidate: Candidate) -> None:
        if len(self._items) < _RING:
            self._items.append(candidate)
        else:
            self._items[self._next] = candidate
            self._next = (self._next + 1) % _RING

    def pick(self) -> tuple[int, Candidate] | None:
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


class LifeState:
    """The people, their pools and the clock; the families of life events build on it."""

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
        self.corrections = Ring(rng)
        self.annulments = Ring(rng)
        self.days = [
            d
            for d in range(start.toordinal(), self.end_day + 1)
            if date.fromordinal(d).weekday() != 6
        ]
        self.reorganized = not start <= SCHEME_CUTOVER <= end

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
            Candidate(
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

    @property
    def household_seq(self) -> int:
        """The last household number handed out."""
        return self._household_seq
