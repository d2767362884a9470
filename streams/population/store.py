"""The unit of work of one batch: load what the batch needs, hold what it produced, write it.

Everything the population sync reads or writes in the database is here. A batch loads its
events' applied ids, PIN links, citizens, correction targets and parked events in a handful of
queries (on PostgreSQL `= ANY(array)`: one parameter whatever the batch size); the rules then
run in memory; `write` puts every table back with one COPY each (PostgreSQL) and the citizens
with one upsert (`streams.population.writes`). The few lookups a batch cannot foresee (a
correction that was parked, a citizen reached through a PIN re-established in the same batch)
are made on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from psycopg.types.json import set_json_loads
from pydantic_core import from_json
from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    and_,
    any_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from databus.pgdriver import driver, fetch, pipeline
from databus.population.schema import (
    applied_events,
    citizens,
    facts_of,
    field_facts,
    lineage,
    pin_links,
)
from schemas.models.base import ChangeType
from schemas.models.envelope import Event
from streams.population.changes import MULTI_VALUED, FieldChange
from streams.population.locks import CitizenLocks
from streams.population.model import AppliedChange, CitizenState, OutboxWriter
from streams.population.rules import Fact, aware
from streams.population.writes import append_rows, upsert_citizens

SMALL_BATCH_ROWS = 2_000
"""A batch that writes at most this many rows into each table (PostgreSQL) sends each table's
rows as one INSERT of JSON rows (`databus.pgcopy.insert_rows`), all in one pipeline, one round
trip for the batch, instead of a COPY per table (two round trips each, and the citizens'
stage). Measured (bench/sync_apply): as fast as COPY at 500-event batches, faster below; COPY
stays the path of bulk batches, streamed in chunks instead of one large parameter."""
_STORED = -1_000_000_000
"""`_order` of stored facts: before any fact of this batch with the same time."""


# A batch's fixed reads on PostgreSQL, sent through the driver (`databus.pgdriver`).
_SEEN_OR_PARKED = (
    "SELECT event_id, false FROM applied_events WHERE event_id = ANY(%s::varchar[]) "
    "UNION ALL SELECT event_id, true FROM parked_events WHERE event_id = ANY(%s::varchar[])"
)
_LINKS_OF = "SELECT old_pin, new_pin FROM pin_links WHERE old_pin = ANY(%s::varchar[])"
_CITIZENS_OF = (
    "SELECT pin, version, record, field_times FROM citizens WHERE pin = ANY(%s::varchar[])"
)
_COUNTED_FACTS = (
    "SELECT id, pin, event_id, occurred_at, facts, fields_off, active FROM field_facts "
    "WHERE {key} = ANY(%s::varchar[]) AND active"
)
_EVENTS_OF = (
    "SELECT event_id, event_type, source FROM applied_events WHERE event_id = ANY(%s::varchar[])"
)


class StoredFact(NamedTuple):
    """A fact that still counts, as the table holds it (`BatchStore.stored_active_facts`):
    `id` is its row's, shared by the facts one event gave one citizen."""

    id: int
    pin: str
    field: str
    value: Any
    event_id: str
    occurred_at: datetime


class BatchStore:
    """What one batch read and what it will write, through `conn` (the caller's transaction)."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.locks = CitizenLocks(conn)
        self.now = now
        self.citizens: dict[str, CitizenState | None] = {}
        self.links: dict[str, str] = {}
        self.seen: set[str] = set()
        self.parked_ids: set[str] | None = None
        """Which of the batch's events are parked already, when `load` read it (PostgreSQL)."""
        self.applied_types: dict[str, str] = {}
        """event_id -> event_type of events applied before this batch (correction targets)
        and in it."""
        self.target_facts: dict[str, list[tuple[str, str]]] = {}
        """correction target -> the (pin, field) of its active facts, from the table."""
        self.targets_loaded: set[str] = set()
        self.stored_facts: dict[str, list[StoredFact]] = {}
        """pin -> its active facts in the table (all fields), preloaded for the citizens that
        the batch's corrections and annulments touch (`active_facts` queries the others,
        through `stored_active_facts`)."""
        self.early_facts: dict[str, list[Fact]] = {}
        self.early_loaded: set[str] = set()
        # what the batch produced
        self.new_facts: list[Fact] = []
        self.facts_by_pin: dict[str, list[Fact]] = {}
        self.facts_by_event: dict[str, list[Fact]] = {}
        self.switched_off: set[str] = set()
        """Events all of whose facts stopped counting (annulled, or corrected in full)."""
        self.switched_fields: set[tuple[str, str]] = set()
        """(event, field): facts of an event that stopped counting in that field only."""
        self.applied_rows: list[dict[str, Any]] = []
        self.lineage_rows: list[dict[str, Any]] = []
        self.changes: list[AppliedChange] = []
        self.rekeys: list[tuple[str, str]] = []
        self._ids: dict[int, tuple[Event, str]] = {}

    def event_id(self, event: Event) -> str:
        """`str(event.event_id)`, made once per event and batch (a UUID's text is costly and
        every row an event writes carries it). Keyed by the object, which the entry keeps
        alive, so the key is never reused by another event."""
        found = self._ids.get(id(event))
        if found is None:
            found = self._ids[id(event)] = (event, str(event.event_id))
        return found[1]

    def one_of(self, column: Any, values: Iterable[str]) -> ColumnElement[bool]:
        """`column IN values`; on PostgreSQL `column = ANY(array)`: one parameter, so the
        statement is compiled once however many values a batch brings."""
        clause: ColumnElement[bool]
        if self.postgres:
            clause = column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        else:
            clause = column.in_(values)
        return clause

    # ------------------------------------------------------------------ loading

    def load(self, events: Sequence[Event], changes: dict[str, list[FieldChange]]) -> None:
        """Lock the batch's citizens (`locks.py`), then load their applied ids, links,
        citizens and correction targets."""
        if self.postgres:  # the citizens' JSON, parsed by pydantic-core's Rust parser
            set_json_loads(from_json, driver(self.conn))
        pins: set[str] = {e.subject_pin for e in events if e.subject_pin}
        for found in changes.values():
            pins.update(c.pin for c in found)
        pins |= {str(e.payload.old_pin) for e in events if e.event_type == "PinReestablished"}
        self.locks.lock(pins)
        self.locks.lock_events(self.event_id(e) for e in events if not e.subject_pin)
        ids = [self.event_id(e) for e in events]
        if self.postgres:  # applied and parked in one round trip
            self.parked_ids = set()
            for event_id, parked in fetch(self.conn, _SEEN_OR_PARKED, ids, ids):
                (self.parked_ids if parked else self.seen).add(event_id)
        else:
            self.seen = set(
                self.conn.scalars(
                    select(applied_events.c.event_id).where(
                        self.one_of(applied_events.c.event_id, ids)
                    )
                )
            )
        self._load_citizens(pins)
        self._load_targets(events, changes)

    def _load_citizens(self, pins: set[str]) -> None:
        if not pins:
            return
        links = self._read(
            _LINKS_OF,
            [list(pins)],
            lambda: select(pin_links.c.old_pin, pin_links.c.new_pin).where(
                self.one_of(pin_links.c.old_pin, pins)
            ),
        )
        for old_pin, new_pin in links:
            self.links[str(old_pin)] = str(new_pin)
        wanted = {self.links.get(p, p) for p in pins}
        self.locks.lock(wanted)  # citizens reached through a re-established PIN
        rows = self._read(
            _CITIZENS_OF,
            [list(wanted)],
            lambda: select(
                citizens.c.pin, citizens.c.version, citizens.c.record, citizens.c.field_times
            ).where(self.one_of(citizens.c.pin, wanted)),
        )
        for pin, version, record, times in rows:
            self.citizens[pin] = CitizenState(pin, version, dict(record), dict(times))
        for pin in wanted:
            self.citizens.setdefault(pin, None)

    def _load_targets(self, events: Sequence[Event], changes: dict[str, list[FieldChange]]) -> None:
        """What corrections and annulments need of the events they target, in two queries."""
        targets = {
            str(e.corrects_event_id)
            for e in events
            if e.change_type is not ChangeType.CREATED and e.corrects_event_id
        }
        if not targets:
            return
        for event_id, (event_type, _) in self._events_of(targets).items():
            self.applied_types[event_id] = event_type
        for event_id, pin, name in self._facts_of_events(targets):
            self.target_facts.setdefault(event_id, []).append((pin, name))
        self.targets_loaded = targets
        # The citizens whose fields they recompute: those of the targets' stored facts and of
        # their own changes (as stored: a PIN re-established since is followed in memory).
        pins = {pin for found in self.target_facts.values() for pin, _ in found}
        for event in events:
            if event.change_type is not ChangeType.CREATED:
                pins.update(c.pin for c in changes.get(self.event_id(event), []))
                pins.add(event.subject_pin or "")
        pins = {self.resolve(p) for p in pins if p}
        pins |= {old for old, new in self.links.items() if new in pins}
        # Only PINs this transaction holds already: another's are read once locked, on demand.
        pins = {p for p in pins if self.locks.holds(p)}
        if not pins:
            return
        self.stored_facts = {pin: [] for pin in pins}
        for fact in self.stored_active_facts(pins):
            self.stored_facts[fact.pin].append(fact)

    def stored_active_facts(
        self, pins: Iterable[str], fields: Iterable[str] | None = None
    ) -> list[StoredFact]:
        """The facts that still count of `pins` (of `fields` only, if given); on PostgreSQL
        through the driver (every batch of births asks it)."""
        wanted = None if fields is None else set(fields)
        return [
            fact
            for fact in self._counted_facts(field_facts.c.pin, pins)
            if wanted is None or fact.field in wanted
        ]

    def _facts_of_events(self, ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """(event, pin, field) of the facts of these events that still count."""
        return [
            (fact.event_id, fact.pin, fact.field)
            for fact in self._counted_facts(field_facts.c.event_id, ids)
        ]

    def _counted_facts(self, key: Any, values: Iterable[str]) -> list[StoredFact]:
        """The facts that still count of the rows whose `key` column (`pin` or `event_id`) is
        one of `values`, each row expanded (`facts_of`)."""
        wanted = list(values)
        rows = self._read(
            _COUNTED_FACTS.format(key=key.name),
            [wanted],
            lambda: select(
                field_facts.c.id,
                field_facts.c.pin,
                field_facts.c.event_id,
                field_facts.c.occurred_at,
                field_facts.c.facts,
                field_facts.c.fields_off,
                field_facts.c.active,
            ).where(and_(self.one_of(key, wanted), field_facts.c.active)),
        )
        return [
            StoredFact(row_id, pin, name, value, event_id, occurred_at)
            for row_id, pin, event_id, occurred_at, facts, off, active in rows
            for name, value, counts in facts_of(facts, off, active)
            if counts
        ]

    def _events_of(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """event_id -> (event type, source) of these applied events."""
        wanted = list(ids)
        rows = self._read(
            _EVENTS_OF,
            [wanted],
            lambda: select(
                applied_events.c.event_id, applied_events.c.event_type, applied_events.c.source
            ).where(self.one_of(applied_events.c.event_id, wanted)),
        )
        return {event_id: (event_type, source) for event_id, event_type, source in rows}

    def _read(
        self, sql: str, params: Sequence[Any], statement: Callable[[], Executable]
    ) -> Iterable[Any]:
        """The rows of a read: on PostgreSQL `sql` with `params` through the driver (a
        SQLAlchemy select costs several times its CPU, and every batch reads); elsewhere the
        select `statement()` builds, through SQLAlchemy."""
        if self.postgres:
            return fetch(self.conn, sql, *params)
        return self.conn.execute(statement())

    def load_early_facts(self, pins: set[str]) -> None:
        """Facts other events gave these PINs before they were citizens (a child names a parent)."""
        wanted = {p for p in pins if p} - self.early_loaded
        if not wanted:
            return
        self.early_loaded |= wanted
        facts = self.stored_active_facts(wanted, MULTI_VALUED)
        if not facts:  # the usual case
            return
        events = self._events_of({fact.event_id for fact in facts})
        for fact in facts:
            event_type, source = events[fact.event_id]
            self.early_facts.setdefault(fact.pin, []).append(
                {
                    "field": fact.field,
                    "value": fact.value,
                    "event_id": fact.event_id,
                    "occurred_at": aware(fact.occurred_at),
                    "_order": _STORED + fact.id,
                    "_type": event_type,
                    "_source": source,
                }
            )

    # ------------------------------------------------------------------ citizens and facts

    def resolve(self, pin: str) -> str:
        """The current PIN of `pin` (through re-establishments)."""
        return self.links.get(pin, pin)

    def get(self, pin: str) -> CitizenState | None:
        """The citizen of `pin` as the batch holds it (loaded on demand if not preloaded)."""
        if pin not in self.citizens:
            self.locks.lock([pin])
            row = self.conn.execute(select(citizens).where(citizens.c.pin == pin)).first()
            self.citizens[pin] = (
                CitizenState(row.pin, row.version, dict(row.record), dict(row.field_times))
                if row
                else None
            )
        return self.citizens[pin]

    def create(self, pin: str) -> CitizenState:
        """A new citizen (a birth)."""
        citizen = CitizenState(pin, 0, {"pin": pin}, {}, exists=False, dirty=True)
        self.citizens[pin] = citizen
        return citizen

    def is_off(self, event_id: str, field: str) -> bool:
        """Whether the facts of `event_id` in `field` stopped counting in this batch."""
        return event_id in self.switched_off or (event_id, field) in self.switched_fields

    def add_fact(self, event: Event, change: FieldChange) -> None:
        fact = {
            "pin": self.resolve(change.pin),
            "field": change.field,
            "value": change.value,
            "event_id": self.event_id(event),
            "occurred_at": event.occurred_at,
            "active": True,
            "_order": len(self.new_facts),
            "_type": event.event_type,
            "_source": event.source,
        }
        self.new_facts.append(fact)
        self.facts_by_pin.setdefault(fact["pin"], []).append(fact)
        self.facts_by_event.setdefault(fact["event_id"], []).append(fact)

    def active_facts(self, pin: str, fields: Iterable[str]) -> dict[str, list[Fact]]:
        """The facts that count for these fields of a citizen, stored and of this batch."""
        wanted = set(fields)
        # Facts of a PIN re-established in this batch are still under the old PIN in the table.
        owners = {pin} | {old for old, _ in self.rekeys if self.resolve(old) == pin}
        rows: Iterable[Any]
        if owners <= self.stored_facts.keys():  # preloaded (the table does not change
            # before the batch writes)
            rows = [
                row for owner in owners for row in self.stored_facts[owner] if row.field in wanted
            ]
        else:
            rows = self.stored_active_facts(owners, wanted)
        out: dict[str, list[Fact]] = {}
        for row in rows:
            if not self.is_off(row.event_id, row.field):
                out.setdefault(row.field, []).append(
                    {
                        "value": row.value,
                        "event_id": row.event_id,
                        "occurred_at": aware(row.occurred_at),
                        "_order": _STORED + row.id,
                    }
                )
        for owner in owners:
            for fact in self.facts_by_pin.get(owner, []):
                if fact["field"] in wanted and not self.is_off(fact["event_id"], fact["field"]):
                    out.setdefault(fact["field"], []).append(fact)
        return out

    def switch_off(self, target: str, fields: frozenset[str] | None) -> dict[str, set[str]]:
        """Deactivate the facts of `target` (in `fields`, or all); return the (pin, fields)
        they had set."""
        touched: dict[str, set[str]] = {}
        if target in self.targets_loaded:
            stored = self.target_facts.get(target, [])
        else:  # a correction that was parked: not in the preload
            stored = [(pin, name) for _, pin, name in self._facts_of_events([target])]
        pairs = stored + [(f["pin"], f["field"]) for f in self.facts_by_event.get(target, [])]
        for pin, name in pairs:
            if fields is None or name in fields:
                touched.setdefault(self.resolve(pin), set()).add(name)
        if fields is None or {name for _, name in pairs} <= fields:
            self.switched_off.add(target)
        else:
            self.switched_fields |= {(target, name) for name in fields}
        return touched

    def event_type_of(self, event_id: str) -> str | None:
        """The type of an applied event (in this batch or before), None if never applied."""
        if event_id in self.applied_types or event_id in self.targets_loaded:
            return self.applied_types.get(event_id)
        found = self.conn.execute(
            select(applied_events.c.event_type).where(applied_events.c.event_id == event_id)
        ).first()
        return found[0] if found else None

    def record_applied(self, event: Event, outcome: str, version: int | None) -> None:
        event_id = self.event_id(event)
        self.applied_types[event_id] = event.event_type
        self.applied_rows.append(
            {
                "event_id": event_id,
                "pin": event.subject_pin or "",
                "event_type": event.event_type,
                "source": event.source,
                "change_type": event.change_type.value,
                "outcome": outcome,
                "version": version,
                "occurred_at": event.occurred_at,
                "applied_at": self.now,
            }
        )

    # ------------------------------------------------------------------ writing

    def write(self, outbox: OutboxWriter) -> None:
        """Write what the batch produced (parked events are written by `Parking`)."""
        conn = self.conn
        for old, new in self.rekeys:
            conn.execute(update(field_facts).where(field_facts.c.pin == old).values(pin=new))
            conn.execute(update(pin_links).where(pin_links.c.new_pin == old).values(new_pin=new))
            conn.execute(citizens.delete().where(citizens.c.pin == old))
        if self.switched_off:
            conn.execute(
                update(field_facts)
                .where(self.one_of(field_facts.c.event_id, self.switched_off))
                .values(active=False)
            )
        if self.switched_fields:  # cross-type corrections only: a few rows per batch
            self._switch_fields_off()
        facts = self._fact_rows()
        dirty = [
            {
                "pin": citizen.pin,
                "version": citizen.version,
                "record": citizen.record,
                "field_times": citizen.times,
                "deceased": citizen.deceased,
                "updated_at": self.now,
            }
            for citizen in self.citizens.values()
            if citizen is not None and citizen.dirty and not citizen.deleted
        ]
        sizes = (len(facts), len(dirty), len(self.applied_rows), len(self.lineage_rows))
        small = max(*sizes, 2 * len(self.changes)) <= SMALL_BATCH_ROWS
        if self.postgres and small and not self.rekeys:
            with pipeline(conn):  # one round trip for every insert (COPYs: two each)
                self._append(outbox, facts, dirty)
        else:
            self._append(outbox, facts, dirty)

    def _switch_fields_off(self) -> None:
        """Add the fields switched off in this batch to `fields_off` of their events' stored
        rows; a row none of whose facts counts any more becomes inactive."""
        fields: dict[str, set[str]] = {}
        for event_id, name in self.switched_fields:
            fields.setdefault(event_id, set()).add(name)
        rows: Iterable[Any] = self.conn.execute(
            select(
                field_facts.c.id,
                field_facts.c.event_id,
                field_facts.c.facts,
                field_facts.c.fields_off,
            ).where(and_(self.one_of(field_facts.c.event_id, fields), field_facts.c.active))
        )
        changed: list[dict[str, Any]] = []
        for row_id, event_id, facts, stored_off in rows:
            names: set[str] = {name for name, _ in facts}
            before: set[str] = set(stored_off or ())
            off = (before | fields[event_id]) & names
            if off != before:
                changed.append({"row": row_id, "off": sorted(off), "counts": off != names})
        if changed:
            self.conn.execute(
                update(field_facts)
                .where(field_facts.c.id == bindparam("row"))
                .values(fields_off=bindparam("off"), active=bindparam("counts")),
                changed,
            )

    def _fact_rows(self) -> list[dict[str, Any]]:
        """The batch's new facts as rows: one per citizen and event, the event's facts in the
        order it gave them. A fact switched off in this batch is listed in `fields_off` (the
        row is inactive when none counts); a fact given to a PIN re-established in this batch
        goes to the new PIN."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        off: dict[tuple[str, str], set[str]] = {}
        for fact in self.new_facts:
            key = (self.resolve(fact["pin"]), fact["event_id"])
            row = rows.get(key)
            if row is None:
                row = rows[key] = {
                    "pin": key[0],
                    "event_id": key[1],
                    "occurred_at": fact["occurred_at"],
                    "facts": [],
                    "fields_off": None,
                    "active": False,
                }
            name = fact["field"]
            row["facts"].append([name, fact["value"]])
            if self.is_off(key[1], name):
                off.setdefault(key, set()).add(name)
            else:
                row["active"] = True
        for key, names in off.items():
            rows[key]["fields_off"] = sorted(names)
        return list(rows.values())

    def _append(
        self, outbox: OutboxWriter, facts: list[dict[str, Any]], dirty: list[dict[str, Any]]
    ) -> None:
        """Insert the batch's new rows and upsert its changed citizens."""
        conn = self.conn
        append_rows(conn, field_facts, facts)
        upsert_citizens(conn, dirty)
        if self.rekeys:
            conn.execute(
                insert(pin_links),
                [
                    # the batch's links are flattened (`reestablish.move`): A -> B then
                    # B -> C in one batch stores A -> C, not A -> B
                    {
                        "old_pin": old,
                        "new_pin": self.links.get(old, new),
                        "event_id": "",
                        "linked_at": self.now,
                    }
                    for old, new in self.rekeys
                ],
            )
        append_rows(conn, applied_events, self.applied_rows)
        append_rows(conn, lineage, self.lineage_rows)
        if self.changes:
            outbox.write(conn, self.changes)
