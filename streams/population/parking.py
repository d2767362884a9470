"""Parking: events that arrive before their subject's PIN exists wait for it.

An event for a PIN that is not (yet) a citizen (its birth, or the re-establishment that makes
the PIN, is on another topic and not applied yet) is parked in `parked_events`; right after
the event that makes the PIN applies, the events that waited for it apply, in real-world order.
A PinReestablished waits for its OLD PIN's citizen. An event is parked once, whatever the
replays.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import insert, select

from databus.pgdriver import fetch
from databus.population.schema import parked_events
from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data
from schemas.models.envelope import Event
from streams.population.model import Incoming
from streams.population.store import BatchStore

_WAITING_FOR = (
    "SELECT event_id, pin, domain, event FROM parked_events WHERE pin = ANY(%s::varchar[]) "
    "ORDER BY parked_at"
)


class _Parked(NamedTuple):
    """A stored parked event."""

    event_id: str
    pin: str
    domain: str
    event: str


UNPARKS = frozenset({"BirthRegistered", "PinReestablished"})
"""Event types after which events parked for their subject's PIN can apply (its PIN exists)."""


class Parking:
    """The parked events one batch reads, adds and releases."""

    def __init__(self, store: BatchStore) -> None:
        self.store = store
        self.parked: list[Incoming] = []
        """Events this batch parks."""
        self.released: list[str] = []
        """Ids of stored parked events this batch applied (their rows go)."""
        self._rows: dict[str, list[_Parked]] = {}
        self._loaded: set[str] = set()
        self._ids: set[str] = set()

    def load(self, batch: Sequence[Incoming]) -> None:
        """Which of the batch's events are parked already (a replay after a crash brings them
        again; on PostgreSQL the store read it with the applied ids), and what waits for the
        PINs the batch creates."""
        store = self.store
        if store.parked_ids is not None:  # read with the applied ids
            self._ids = set(store.parked_ids)
        else:
            ids = [store.event_id(i.event) for i in batch]
            self._ids = set(
                store.conn.scalars(
                    select(parked_events.c.event_id).where(
                        store.one_of(parked_events.c.event_id, ids)
                    )
                )
            )
        self.load_waiting(
            {i.event.subject_pin or "" for i in batch if i.event.event_type in UNPARKS}
        )

    def load_waiting(self, pins: set[str]) -> None:
        """The parked events waiting for these PINs, in one query."""
        wanted = {p for p in pins if p} - self._loaded
        if not wanted:
            return
        self._loaded |= wanted
        store = self.store
        rows: Any
        if store.postgres:  # through the driver: every batch of births asks it
            rows = fetch(store.conn, _WAITING_FOR, list(wanted))
        else:
            rows = store.conn.execute(
                select(
                    parked_events.c.event_id,
                    parked_events.c.pin,
                    parked_events.c.domain,
                    parked_events.c.event,
                )
                .where(store.one_of(parked_events.c.pin, wanted))
                .order_by(parked_events.c.parked_at)
            )
        for row in rows:
            parked = _Parked(*row)
            self._rows.setdefault(parked.pin, []).append(parked)

    def park(self, incoming: Incoming) -> None:
        """Keep `incoming` until its PIN exists (once, whatever the replays)."""
        event_id = self.store.event_id(incoming.event)
        if event_id not in self._ids:
            self._ids.add(event_id)
            self.parked.append(incoming)

    def release(self, pin: str) -> list[Incoming]:
        """The events that waited for `pin`, stored or parked in this batch, oldest first."""
        self.load_waiting({pin})  # a PIN made by an event that was itself parked
        rows = self._rows.pop(pin, [])
        waiting = [i for i in self.parked if park_key(i.event) == pin]
        self.parked = [i for i in self.parked if park_key(i.event) != pin]
        self.released += [r.event_id for r in rows]
        events = [Incoming(_parse(r.domain, r.event)) for r in rows] + waiting
        return sorted(events, key=lambda i: (i.event.occurred_at, i.event.recorded_at))

    def write(self) -> None:
        """Delete the released rows, insert the newly parked events."""
        store = self.store
        if self.released:
            store.conn.execute(
                parked_events.delete().where(store.one_of(parked_events.c.event_id, self.released))
            )
        if self.parked:
            store.conn.execute(
                insert(parked_events),
                [
                    {
                        "event_id": str(i.event.event_id),
                        "pin": park_key(i.event),
                        "domain": domain_of(i.event),
                        "event": i.event.model_dump_json(),
                        "parked_at": store.now,
                    }
                    for i in self.parked
                ],
            )


def park_key(event: Event) -> str:
    """The PIN a parked event waits for: a re-establishment waits for its OLD PIN's citizen."""
    if event.event_type == "PinReestablished":
        return str(event.payload.old_pin)
    return event.subject_pin or ""


def domain_of(event: Event) -> str:
    """The event domain (source topic family) of an event."""
    return next(d.name for d in EVENT_DOMAINS.values() if type(event) in d.events)


def _parse(domain: str, text: str) -> Event:
    return event_from_data(EVENT_DOMAINS[domain], json.loads(text))
