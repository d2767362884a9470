"""Life events: moves, temporary stays and their end, emigration."""

from __future__ import annotations

from bisect import bisect
from itertools import accumulate
from typing import Final

from producers.generator.life.state import Candidate, LifeState
from producers.generator.names import MALE
from producers.generator.records import (
    DAY,
    Person,
    between,
    new_uuid,
)

_COUNTRIES: Final = (
    ("JP", 25), ("KR", 15), ("TW", 15), ("US", 12), ("AU", 8), ("DE", 5), ("CA", 5),
    ("FR", 3), ("GB", 3), ("SG", 3), ("MY", 2), ("CZ", 2), ("RU", 1), ("PL", 1),
)  # fmt: skip
_COUNTRY_CODES: Final = tuple(code for code, _ in _COUNTRIES)
_COUNTRY_CUM: Final = tuple(accumulate(weight for _, weight in _COUNTRIES))


class ResidenceEvents(LifeState):
    """Moves, temporary stays and their end, emigration."""

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
        candidate = Candidate(
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
