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

from producers.generator.life.simulator import LifeSimulator

__all__ = ["LifeSimulator"]
