"""The life simulation's loop: draws an action by weight and applies it (see the package)."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable
from datetime import date
from itertools import accumulate
from typing import Final

from producers.generator.life.amendments import AmendmentEvents
from producers.generator.life.civil_status import CivilStatusEvents
from producers.generator.life.identity import IdentityEvents
from producers.generator.life.residence import ResidenceEvents
from producers.generator.places import Places
from producers.generator.records import (
    DAY,
    OFFICE_HOURS,
    OFFICE_OPEN,
    EventFactory,
    Person,
)

_MAX_FAILURES: Final = 5000


class LifeSimulator(CivilStatusEvents, ResidenceEvents, IdentityEvents, AmendmentEvents):
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
        super().__init__(rng, places, emit, people, pins, start, end, household_seq)
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
