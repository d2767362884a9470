"""Life events: identity cards and PINs re-established."""

from __future__ import annotations

from datetime import date

from producers.generator.life.state import Candidate, LifeState
from producers.generator.names import FEMALE, MALE, other_given
from producers.generator.records import (
    CAN_CUOC_FROM,
    DAY,
    Person,
    Record,
    between,
    card_for,
    name_record,
    new_uuid,
)


class IdentityEvents(LifeState):
    """Identity cards and PINs re-established."""

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
            Candidate(
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
