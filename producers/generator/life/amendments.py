"""Life events: corrections (CORRECTED) and annulments (ANNULLED) of earlier events."""

from __future__ import annotations

from datetime import date, timedelta

from producers.generator.life.state import Candidate, LifeState, Ring
from producers.generator.names import other_given
from producers.generator.records import (
    DAY,
    Record,
    between,
    name_record,
)


class AmendmentEvents(LifeState):
    """Corrections (CORRECTED) and annulments (ANNULLED) of earlier events."""

    def _correct(self, t: int) -> int:
        return self._amend(t, self.corrections, "CORRECTED")

    def _annul(self, t: int) -> int:
        return self._amend(t, self.annulments, "ANNULLED")

    def _amend(self, t: int, ring: Ring, change: str) -> int:
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

    def _corrected(self, candidate: Candidate) -> Record | None:
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

    def _annulled(self, candidate: Candidate) -> Record | None:
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
