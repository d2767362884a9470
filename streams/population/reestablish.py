"""PIN re-establishment: a new PIN replaces a citizen's old one (e.g. gender re-determination).

The citizen moves to the new PIN with its version, record and field times; the old PIN joins
`pin_history` (the event's own fact) and is linked old -> new in `pin_links`, so later events
for the old PIN reach the citizen; links that pointed to the old PIN follow it. In the table,
the citizen's facts move to the new PIN when the batch is written.
"""

from __future__ import annotations

from schemas.models.envelope import Event
from streams.population import rules
from streams.population.changes import FieldChange
from streams.population.model import CitizenState
from streams.population.store import BatchStore


def admit(store: BatchStore, event: Event) -> rules.Admission:
    """Whether `event` (a PinReestablished) can move its old PIN's citizen now."""
    old_pin = store.resolve(str(event.payload.old_pin))
    new_pin = store.resolve(event.subject_pin or "")
    in_use = store.get(new_pin) is not None or new_pin in store.links
    return rules.admit_reestablishment(event, store.get(old_pin), in_use)


def move(store: BatchStore, event: Event, changes: list[FieldChange]) -> list[FieldChange]:
    """Move the citizen of the event's old PIN to its new PIN (admitted by `admit`); return the
    event's changes addressed to the new PIN."""
    old_pin = store.resolve(str(event.payload.old_pin))
    new_pin = store.resolve(event.subject_pin or "")
    citizen = store.get(old_pin)
    assert citizen is not None
    store.citizens[new_pin] = CitizenState(
        new_pin,
        citizen.version,
        {**citizen.record, "pin": new_pin},
        dict(citizen.times),
        exists=False,
        dirty=True,
    )
    citizen.deleted = True
    store.citizens[old_pin] = None
    store.links[old_pin] = new_pin
    for old, target in list(store.links.items()):
        if target == old_pin:
            store.links[old] = new_pin
    store.rekeys.append((old_pin, new_pin))
    return [FieldChange(new_pin, c.field, c.value) for c in changes]
