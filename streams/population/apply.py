"""Apply a batch of source events to the population database, in one transaction.

For each event, in order: skip it if its id was applied before; resolve re-established PINs;
check that its source is authoritative for every field it sets; refuse changes to a deceased
citizen other than corrections; then apply it field by field (the newest `occurred_at` wins; a
late, older event is recorded but changes nothing); a CORRECTED event replaces the facts of
the event it corrects, an ANNULLED event switches them off and the fields fall back to what
remains; bump the citizen's version, write lineage, and hand the resulting PopulationChange and
Citizen to the outbox. The caller commits, then commits the Kafka offsets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from psycopg.types.json import set_json_loads
from pydantic_core import from_json
from sqlalchemy import (
    ColumnElement,
    Connection,
    MetaData,
    Table,
    and_,
    any_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from databus.pgcopy import copy_rows
from databus.population.schema import (
    applied_events,
    citizens,
    field_facts,
    lineage,
    parked_events,
    pin_links,
)
from databus.topology.model import Topology
from schemas.catalog import EVENT_DOMAINS
from schemas.codec import event_from_data
from schemas.domain import local_date
from schemas.models.base import ChangeType
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange
from schemas.models.envelope import Event
from schemas.models.types import TRUSTED
from streams.population.changes import DEFAULTS, MULTI_VALUED, FieldChange, field_changes

_FACT_COLUMNS = frozenset(c.name for c in field_facts.columns)
_UNPARKS = frozenset({"BirthRegistered", "PinReestablished"})
"""Event types after which events parked for their subject's PIN can apply (its PIN exists)."""

Status = Literal["applied", "late", "duplicate", "dead_letter", "parked", "reference"]


@dataclass(frozen=True)
class AppliedChange:
    """One change to one citizen: a PopulationChange with the citizen kept in JSON form.

    The citizen after the change is the record as the population database stores it; the
    outbox encodes it to Avro straight from that form, and `model()` builds the contract
    record when one is wanted (no domain rule runs again: every value came from a validated
    event).
    """

    pin: str
    version: int
    event_id: str
    event_type: str
    source: str
    changed_fields: list[str]
    occurred_at: datetime
    applied_at: datetime
    citizen: dict[str, Any]

    def model(self) -> PopulationChange:
        """The PopulationChange record of this change."""
        return PopulationChange(
            pin=self.pin,
            version=self.version,
            event_id=UUID(self.event_id),
            event_type=self.event_type,
            source=self.source,
            changed_fields=self.changed_fields,
            occurred_at=self.occurred_at,
            applied_at=self.applied_at,
            citizen=Citizen.model_validate(self.citizen, context=TRUSTED),
        )


class OutboxWriter(Protocol):
    """Where applied changes go, inside the same transaction (the NPD's outbox)."""

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None: ...


@dataclass
class Incoming:
    """One event to apply, with where it came from (for dead letters and metrics)."""

    event: Event
    topic: str = ""
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    value: bytes | None = None


@dataclass
class Outcome:
    """What applying one event did."""

    incoming: Incoming
    status: Status
    reason: str | None = None
    message: str = ""
    changes: list[AppliedChange] = field(default_factory=list)


@dataclass
class _Citizen:
    pin: str
    version: int
    record: dict[str, Any]
    times: dict[str, str]
    exists: bool = True
    dirty: bool = False
    deleted: bool = False

    @property
    def deceased(self) -> bool:
        return self.record.get("date_of_death") is not None

    def died_before(self, event: Event) -> bool:
        """Whether the citizen's death precedes what `event` reports (a fact from before the
        death, arriving late from another topic, still applies)."""
        died = self.record.get("date_of_death")
        return died is not None and local_date(event.occurred_at).isoformat() > died


class _RefusedError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _ParkError(Exception):
    pass


class PopulationApplier:
    """Applies batches of events for one topology (authority comes from its sources)."""

    def __init__(
        self,
        topology: Topology,
        outbox: OutboxWriter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self._authority = {
            s.agency: frozenset(s.authoritative_for) for s in topology.sources.values()
        }

    def apply_batch(self, conn: Connection, batch: Sequence[Incoming]) -> list[Outcome]:
        """Apply `batch` through `conn` (inside the caller's transaction)."""
        return _Batch(self, conn).run(batch)


class _Batch:
    """The state of one batch: citizens touched, facts and rows to write."""

    def __init__(self, applier: PopulationApplier, conn: Connection) -> None:
        self.applier = applier
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.now = applier.clock()
        self.citizens: dict[str, _Citizen | None] = {}
        self.links: dict[str, str] = {}
        self.new_facts: list[dict[str, Any]] = []
        self.field_changes: dict[str, list[FieldChange]] = {}
        self.facts_by_pin: dict[str, list[dict[str, Any]]] = {}
        self.facts_by_event: dict[str, list[dict[str, Any]]] = {}
        self.switched_off: set[str] = set()
        self.applied_rows: list[dict[str, Any]] = []
        self.applied_types: dict[str, str] = {}
        """event_id -> event_type of events applied before this batch (correction targets)
        and in it."""
        self.target_facts: dict[str, list[tuple[str, str]]] = {}
        """correction target -> the (pin, field) of its active facts, from the table."""
        self.lineage_rows: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.changes: list[AppliedChange] = []
        self.rekeys: list[tuple[str, str]] = []
        self.parked: list[Incoming] = []
        self.unparked: list[str] = []
        self.early_facts: dict[str, list[dict[str, Any]]] = {}
        self.early_loaded: set[str] = set()
        self.parked_rows: dict[str, list[Any]] = {}
        self.parked_loaded: set[str] = set()
        self.parked_ids: set[str] = set()
        self.targets_loaded: set[str] = set()

    def one_of(self, column: Any, values: Iterable[str]) -> ColumnElement[bool]:
        """`column IN values`; on PostgreSQL `column = ANY(array)`: one parameter, so the
        statement is compiled once however many values a batch brings."""
        clause: ColumnElement[bool]
        if self.postgres:
            clause = column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        else:
            clause = column.in_(values)
        return clause

    # ------------------------------------------------------------------ batch flow

    def run(self, batch: Sequence[Incoming]) -> list[Outcome]:
        if self.postgres:  # the citizens' JSON, parsed by pydantic-core's Rust parser
            set_json_loads(from_json, _driver(self.conn))
        ids = [str(i.event.event_id) for i in batch]
        self.seen = set(
            self.conn.scalars(
                select(applied_events.c.event_id).where(self.one_of(applied_events.c.event_id, ids))
            )
        )
        # A replay (after a crash before the offsets were committed) brings parked events again.
        self.parked_ids = set(
            self.conn.scalars(
                select(parked_events.c.event_id).where(self.one_of(parked_events.c.event_id, ids))
            )
        )
        self._preload(batch)
        self._preload_targets(batch)
        outcomes = [self._one(incoming) for incoming in batch]
        self._write(outcomes)
        return outcomes

    def _changes_of(self, event: Event) -> list[FieldChange]:
        """`field_changes(event)`, computed once per event and batch."""
        key = str(event.event_id)
        found = self.field_changes.get(key)
        if found is None:
            found = self.field_changes[key] = field_changes(event)
        return found

    def _preload_targets(self, batch: Sequence[Incoming]) -> None:
        """What corrections and annulments need of the events they target, in two queries."""
        targets = {
            str(i.event.corrects_event_id)
            for i in batch
            if i.event.change_type is not ChangeType.CREATED and i.event.corrects_event_id
        }
        if not targets:
            return
        for row in self.conn.execute(
            select(applied_events.c.event_id, applied_events.c.event_type).where(
                self.one_of(applied_events.c.event_id, targets)
            )
        ):
            self.applied_types[row.event_id] = row.event_type
        for row in self.conn.execute(
            select(field_facts.c.event_id, field_facts.c.pin, field_facts.c.field).where(
                and_(self.one_of(field_facts.c.event_id, targets), field_facts.c.active)
            )
        ):
            self.target_facts.setdefault(row.event_id, []).append((row.pin, row.field))
        self.targets_loaded = targets

    def _preload(self, batch: Sequence[Incoming]) -> None:
        pins: set[str] = {i.event.subject_pin for i in batch if i.event.subject_pin}
        for change in (c for i in batch for c in self._changes_of(i.event)):
            pins.add(change.pin)
        pins |= {
            str(i.event.payload.old_pin) for i in batch if i.event.event_type == "PinReestablished"
        }
        if not pins:
            return
        for link in self.conn.execute(
            select(pin_links.c.old_pin, pin_links.c.new_pin).where(
                self.one_of(pin_links.c.old_pin, pins)
            )
        ):
            self.links[str(link.old_pin)] = str(link.new_pin)
        wanted = {self.links.get(p, p) for p in pins}
        for row in self.conn.execute(select(citizens).where(self.one_of(citizens.c.pin, wanted))):
            self.citizens[row.pin] = _Citizen(
                row.pin, row.version, dict(row.record), dict(row.field_times)
            )
        for pin in wanted:
            self.citizens.setdefault(pin, None)
        creating = {i.event.subject_pin or "" for i in batch if i.event.event_type in _UNPARKS}
        self._preload_early_facts(creating)
        self._preload_parked(creating)

    def _preload_early_facts(self, pins: set[str]) -> None:
        """Facts other events gave these PINs before they were citizens (a child names a parent)."""
        wanted = {p for p in pins if p} - self.early_loaded
        if not wanted:
            return
        self.early_loaded |= wanted
        facts = self.conn.execute(
            select(
                field_facts.c.id,
                field_facts.c.pin,
                field_facts.c.field,
                field_facts.c.value,
                field_facts.c.event_id,
                field_facts.c.occurred_at,
            ).where(
                and_(
                    self.one_of(field_facts.c.pin, wanted),
                    self.one_of(field_facts.c.field, MULTI_VALUED),
                    field_facts.c.active,
                )
            )
        ).all()
        if not facts:  # the usual case
            return
        events = {
            row.event_id: (row.event_type, row.source)
            for row in self.conn.execute(
                select(
                    applied_events.c.event_id, applied_events.c.event_type, applied_events.c.source
                ).where(self.one_of(applied_events.c.event_id, {row.event_id for row in facts}))
            )
        }
        for row in facts:
            event_type, source = events[row.event_id]
            self.early_facts.setdefault(row.pin, []).append(
                {
                    "field": row.field,
                    "value": row.value,
                    "event_id": row.event_id,
                    "occurred_at": _aware(row.occurred_at),
                    "_order": -1_000_000_000 + row.id,
                    "_type": event_type,
                    "_source": source,
                }
            )

    def _one(self, incoming: Incoming) -> Outcome:
        event = incoming.event
        event_id = str(event.event_id)
        if event_id in self.seen:
            return Outcome(incoming, "duplicate", "event.duplicate")
        self.seen.add(event_id)
        if event.event_type == "AdministrativeUnitsReorganized":
            self._record_applied(event, "reference", None)
            return Outcome(incoming, "reference")
        try:
            outcome = self._apply(incoming)
        except _RefusedError as refused:
            self.seen.discard(event_id)  # a replay after a fix must be able to apply it
            return Outcome(incoming, "dead_letter", refused.reason, refused.message)
        except _ParkError:
            self.seen.discard(event_id)
            if event_id not in self.parked_ids:  # parked once, whatever the replays
                self.parked_ids.add(event_id)
                self.parked.append(incoming)
            return Outcome(
                incoming,
                "parked",
                "subject_unknown",
                "the subject is not (yet) a citizen; parked until their birth",
            )
        if outcome.status == "applied" and event.event_type in _UNPARKS:
            self._adopt_early_facts(event)
            self._unpark(event.subject_pin or "")  # the subject's PIN exists from now on
        return outcome

    def _adopt_early_facts(self, creator: Event) -> None:
        """Give a citizen what events applied before its PIN existed gave that PIN.

        Only another citizen's birth reaches a PIN that is not (yet) a citizen: a child names
        a parent whose own birth, or re-established PIN, comes later (another partition, a late
        registration). Each such fact becomes its own change, attributed to the event that gave
        it, as if the parent had existed when it was applied.
        """
        pin = creator.subject_pin or ""
        citizen = self._get(pin)
        assert citizen is not None
        self._preload_early_facts({pin})  # a creator that was parked is not in the preload
        creator_id = str(creator.event_id)
        early = self.early_facts.pop(pin, []) + [
            f for f in self.facts_by_pin.get(pin, []) if f["event_id"] != creator_id
        ]
        for fact in sorted(early, key=_fact_order):
            name = fact["field"]
            if name not in MULTI_VALUED or fact["event_id"] in self.switched_off:
                continue
            citizen.record[name] = [*citizen.record.get(name, []), fact["value"]]
            citizen.times[name] = _iso(fact["occurred_at"])
            citizen.version += 1
            citizen.dirty = True
            self.lineage_rows.append(
                {
                    "pin": pin,
                    "version": citizen.version,
                    "field": name,
                    "event_id": fact["event_id"],
                    "event_type": fact["_type"],
                    "source": fact["_source"],
                    "action": "set",
                    "occurred_at": fact["occurred_at"],
                    "applied_at": self.now,
                }
            )
            self.changes.append(
                self._change_of(
                    citizen,
                    fact["event_id"],
                    fact["_type"],
                    fact["_source"],
                    fact["occurred_at"],
                    [name],
                )
            )

    # ------------------------------------------------------------------ one event

    def _apply(self, incoming: Incoming) -> Outcome:
        event = incoming.event
        changes = self._changes_of(event)
        granted = self.applier._authority.get(event.source, frozenset())
        refused_fields = sorted({c.field for c in changes} - granted)
        if refused_fields:
            raise _RefusedError(
                "not_authoritative",
                f"source {event.source} is not authoritative for {', '.join(refused_fields)}",
            )
        subject = self._resolve(event.subject_pin or "")
        if event.event_type == "PinReestablished":
            return self._reestablish(incoming, subject, changes)
        citizen = self._get(subject)
        if event.event_type == "BirthRegistered" and event.change_type is ChangeType.CREATED:
            if citizen is not None:
                raise _RefusedError("subject_exists", "a citizen with this PIN already exists")
            citizen = self._create(subject)
        elif citizen is None:
            raise _ParkError
        if event.change_type is ChangeType.CREATED and citizen.died_before(event):
            raise _RefusedError(
                "subject_deceased", "the subject is deceased; only corrections apply"
            )
        if event.change_type is ChangeType.CREATED:
            return self._apply_created(incoming, changes)
        # CORRECTED or ANNULLED: the facts of the target event stop counting.
        target = str(event.corrects_event_id)
        # A target already corrected (earlier in this batch or before) still counts as applied:
        # the outcome must not depend on where the batch boundaries fall.
        if not self._was_applied(target):
            raise _RefusedError(
                "correction_target_missing", "the corrected or annulled event was never applied"
            )
        if (
            event.change_type is ChangeType.ANNULLED
            and self._event_type_of(target) == "BirthRegistered"
        ):
            raise _RefusedError(
                "birth_annulment_unsupported",
                "annulling a birth registration needs a manual procedure",
            )
        touched = self._switch_off(target)
        if event.change_type is not ChangeType.ANNULLED:
            for change in changes:
                touched.setdefault(self._resolve(change.pin), set()).add(change.field)
                self._add_fact(event, change)
        return self._settle(incoming, touched)

    def _apply_created(
        self,
        incoming: Incoming,
        changes: list[FieldChange],
        *,
        also_changed: dict[str, set[str]] | None = None,
    ) -> Outcome:
        """A new fact: set fields whose current value is older; no fact history needed."""
        event = incoming.event
        when = _aware(event.occurred_at)
        changed: dict[str, set[str]] = {k: set(v) for k, v in (also_changed or {}).items()}
        late: dict[str, set[str]] = {}
        slow: dict[str, set[str]] = {}
        for change in changes:
            self._add_fact(event, change)
            pin = self._resolve(change.pin)
            citizen = self._get(pin)
            if citizen is None:  # a parent who is not a citizen of this database
                continue
            current = citizen.times.get(change.field)
            newer = current is None or when >= datetime.fromisoformat(current)
            if change.field in MULTI_VALUED:
                if not newer:  # an older element: its place in the list needs the history
                    slow.setdefault(pin, set()).add(change.field)
                    continue
                value = [*citizen.record.get(change.field, []), change.value]
            elif newer:
                value = change.value
            else:
                late.setdefault(pin, set()).add(change.field)
                continue
            citizen.times[change.field] = when.isoformat()
            if citizen.record.get(change.field, DEFAULTS.get(change.field)) != value:
                citizen.record[change.field] = value
                changed.setdefault(pin, set()).add(change.field)
        return self._finish(incoming, changed, late, slow)

    def _settle(self, incoming: Incoming, touched: dict[str, set[str]]) -> Outcome:
        """Recompute the touched fields from their facts (corrections, annulments)."""
        changed: dict[str, set[str]] = {}
        late: dict[str, set[str]] = {}
        for pin, fields in touched.items():
            citizen = self._get(pin)
            if citizen is None:
                continue
            now_changed, now_late = self._recompute(citizen, fields, incoming.event)
            changed[pin], late[pin] = now_changed, now_late
        return self._finish(incoming, changed, late, {})

    def _finish(
        self,
        incoming: Incoming,
        changed: dict[str, set[str]],
        late: dict[str, set[str]],
        slow: dict[str, set[str]],
    ) -> Outcome:
        """Versions, lineage, the applied-event row and the PopulationChanges of one event."""
        event = incoming.event
        for pin, fields in slow.items():
            citizen = self._get(pin)
            assert citizen is not None
            more_changed, more_late = self._recompute(citizen, fields, event)
            changed.setdefault(pin, set()).update(more_changed)
            late.setdefault(pin, set()).update(more_late)
        result: list[AppliedChange] = []
        for pin in sorted(set(changed) | set(late)):
            citizen = self._get(pin)
            assert citizen is not None
            fields_changed = changed.get(pin, set())
            if fields_changed:
                citizen.version += 1
                citizen.dirty = True
                result.append(self._change(citizen, event, sorted(fields_changed)))
            for name in sorted(fields_changed | late.get(pin, set())):
                self.lineage_rows.append(
                    {
                        "pin": pin,
                        "version": citizen.version,
                        "field": name,
                        "event_id": str(event.event_id),
                        "event_type": event.event_type,
                        "source": event.source,
                        "action": "late"
                        if name in late.get(pin, set())
                        else _action(event.change_type),
                        "occurred_at": event.occurred_at,
                        "applied_at": self.now,
                    }
                )
        any_late = any(late.values())
        subject = self._get(self._resolve(event.subject_pin or ""))
        status: Status = "late" if any_late and not result else "applied"
        self._record_applied(event, status, subject.version if subject else None)
        self.changes += result
        return Outcome(incoming, status, "event.late" if status == "late" else None, changes=result)

    def _recompute(
        self, citizen: _Citizen, fields: set[str], event: Event
    ) -> tuple[set[str], set[str]]:
        """(fields whose value changed, fields where this event's fact lost to a newer one)."""
        changed: set[str] = set()
        late: set[str] = set()
        facts = self._active_facts(citizen.pin, fields)
        event_id = str(event.event_id)
        for name in fields:
            mine = [f for f in facts.get(name, []) if f["event_id"] == event_id]
            candidates = facts.get(name, [])
            if name in MULTI_VALUED:
                value: Any = [f["value"] for f in sorted(candidates, key=_fact_order)]
                newest = max((f["occurred_at"] for f in candidates), default=None)
            else:
                best = max(candidates, key=_fact_order, default=None)
                value = best["value"] if best else DEFAULTS.get(name)
                newest = best["occurred_at"] if best else None
                if mine and best is not None and best["event_id"] != event_id:
                    late.add(name)
            if citizen.record.get(name, DEFAULTS.get(name)) != value:
                citizen.record[name] = value
                changed.add(name)
            if newest is None:
                citizen.times.pop(name, None)
            else:
                citizen.times[name] = _iso(newest)
        return changed, late

    # ------------------------------------------------------------------ PINs

    def _reestablish(self, incoming: Incoming, new_pin: str, changes: list[FieldChange]) -> Outcome:
        event = incoming.event
        old_pin = self._resolve(event.payload.old_pin)
        citizen = self._get(old_pin)
        if citizen is None:
            raise _ParkError
        if citizen.died_before(event):
            raise _RefusedError(
                "subject_deceased", "the subject is deceased; only corrections apply"
            )
        if self._get(new_pin) is not None or new_pin in self.links:
            raise _RefusedError("pin_in_use", "the new PIN already belongs to a citizen")
        moved = _Citizen(
            new_pin,
            citizen.version,
            {**citizen.record, "pin": new_pin},
            dict(citizen.times),
            exists=False,
            dirty=True,
        )
        citizen.deleted = True
        self.citizens[new_pin] = moved
        self.citizens[old_pin] = None
        self.links[old_pin] = new_pin
        for old, target in list(self.links.items()):
            if target == old_pin:
                self.links[old] = new_pin
        self.rekeys.append((old_pin, new_pin))
        moved_changes = [FieldChange(new_pin, c.field, c.value) for c in changes]
        return self._apply_created(incoming, moved_changes, also_changed={new_pin: {"pin"}})

    def _resolve(self, pin: str) -> str:
        return self.links.get(pin, pin)

    # ------------------------------------------------------------------ citizens and facts

    def _get(self, pin: str) -> _Citizen | None:
        if pin not in self.citizens:
            row = self.conn.execute(select(citizens).where(citizens.c.pin == pin)).first()
            self.citizens[pin] = (
                _Citizen(row.pin, row.version, dict(row.record), dict(row.field_times))
                if row
                else None
            )
        return self.citizens[pin]

    def _create(self, pin: str) -> _Citizen:
        citizen = _Citizen(pin, 0, {"pin": pin}, {}, exists=False, dirty=True)
        self.citizens[pin] = citizen
        return citizen

    def _add_fact(self, event: Event, change: FieldChange) -> None:
        fact = {
            "pin": self._resolve(change.pin),
            "field": change.field,
            "value": change.value,
            "event_id": str(event.event_id),
            "occurred_at": event.occurred_at,
            "active": True,
            "_order": len(self.new_facts),
            "_type": event.event_type,
            "_source": event.source,
        }
        self.new_facts.append(fact)
        self.facts_by_pin.setdefault(fact["pin"], []).append(fact)
        self.facts_by_event.setdefault(fact["event_id"], []).append(fact)

    def _active_facts(self, pin: str, fields: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        wanted = set(fields)
        # Facts of a PIN re-established in this batch are still under the old PIN in the table.
        owners = {pin} | {old for old, _ in self.rekeys if self._resolve(old) == pin}
        rows = self.conn.execute(
            select(
                field_facts.c.id,
                field_facts.c.field,
                field_facts.c.value,
                field_facts.c.event_id,
                field_facts.c.occurred_at,
            ).where(
                and_(
                    self.one_of(field_facts.c.pin, owners),
                    self.one_of(field_facts.c.field, wanted),
                    field_facts.c.active,
                )
            )
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row.event_id not in self.switched_off:
                out.setdefault(row.field, []).append(
                    {
                        "value": row.value,
                        "event_id": row.event_id,
                        "occurred_at": _aware(row.occurred_at),
                        "_order": -1_000_000_000 + row.id,
                    }
                )
        for owner in owners:
            for fact in self.facts_by_pin.get(owner, []):
                if fact["field"] in wanted and fact["event_id"] not in self.switched_off:
                    out.setdefault(fact["field"], []).append(fact)
        return out

    def _switch_off(self, target: str) -> dict[str, set[str]]:
        """Deactivate every fact of `target`; return the (pin, fields) it had set."""
        self.switched_off.add(target)
        touched: dict[str, set[str]] = {}
        if target in self.targets_loaded:
            stored = self.target_facts.get(target, [])
        else:  # a correction that was parked: not in the preload
            stored = [
                (row.pin, row.field)
                for row in self.conn.execute(
                    select(field_facts.c.pin, field_facts.c.field).where(
                        and_(field_facts.c.event_id == target, field_facts.c.active)
                    )
                )
            ]
        for pin, name in stored:
            touched.setdefault(self._resolve(pin), set()).add(name)
        for fact in self.facts_by_event.get(target, []):
            touched.setdefault(self._resolve(fact["pin"]), set()).add(fact["field"])
        return touched

    def _was_applied(self, event_id: str) -> bool:
        return self._event_type_of(event_id) is not None

    def _event_type_of(self, event_id: str) -> str | None:
        """The type of an applied event (in this batch or before), None if never applied."""
        if event_id in self.applied_types or event_id in self.targets_loaded:
            return self.applied_types.get(event_id)
        found = self.conn.execute(
            select(applied_events.c.event_type).where(applied_events.c.event_id == event_id)
        ).first()
        return found[0] if found else None

    def _record_applied(self, event: Event, outcome: str, version: int | None) -> None:
        self.applied_types[str(event.event_id)] = event.event_type
        self.applied_rows.append(
            {
                "event_id": str(event.event_id),
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

    def _change(self, citizen: _Citizen, event: Event, changed: list[str]) -> AppliedChange:
        return self._change_of(
            citizen, event.event_id, event.event_type, event.source, event.occurred_at, changed
        )

    def _change_of(
        self,
        citizen: _Citizen,
        event_id: UUID | str,
        event_type: str,
        source: str,
        occurred_at: datetime,
        changed: list[str],
    ) -> AppliedChange:
        return AppliedChange(
            citizen.pin,
            citizen.version,
            str(event_id),
            event_type,
            source,
            changed,
            occurred_at,
            self.now,
            dict(citizen.record),  # values are replaced, never changed in place
        )

    # ------------------------------------------------------------------ parking

    def _preload_parked(self, pins: set[str]) -> None:
        """The parked events waiting for these PINs, in one query."""
        wanted = {p for p in pins if p} - self.parked_loaded
        if not wanted:
            return
        self.parked_loaded |= wanted
        for row in self.conn.execute(
            select(parked_events)
            .where(self.one_of(parked_events.c.pin, wanted))
            .order_by(parked_events.c.parked_at)
        ):
            self.parked_rows.setdefault(row.pin, []).append(row)

    def _unpark(self, pin: str) -> None:
        """Apply the events that waited for this PIN to exist (birth or re-established PIN)."""
        self._preload_parked({pin})  # a PIN made by an event that was itself parked
        rows = self.parked_rows.pop(pin, [])
        waiting = [i for i in self.parked if _park_key(i.event) == pin]
        self.parked = [i for i in self.parked if _park_key(i.event) != pin]
        events = [_parse_parked(r.domain, r.event) for r in rows] + [i.event for i in waiting]
        self.unparked += [r.event_id for r in rows]
        for event in sorted(events, key=lambda e: (e.occurred_at, e.recorded_at)):
            self._one(Incoming(event))

    # ------------------------------------------------------------------ writing

    def _write(self, outcomes: list[Outcome]) -> None:
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
        facts = [{k: v for k, v in f.items() if k in _FACT_COLUMNS} for f in self.new_facts]
        for fact in facts:  # facts added before a re-establishment in this batch follow it
            fact["pin"] = self._resolve(fact["pin"])
        for fact in facts:
            if fact["event_id"] in self.switched_off:
                fact["active"] = False
        append_rows(conn, field_facts, facts)
        _upsert_citizens(
            conn,
            [
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
            ],
        )
        if self.rekeys:
            conn.execute(
                insert(pin_links),
                [
                    {"old_pin": old, "new_pin": new, "event_id": "", "linked_at": self.now}
                    for old, new in self.rekeys
                ],
            )
        append_rows(conn, applied_events, self.applied_rows)
        append_rows(conn, lineage, self.lineage_rows)
        if self.unparked:
            conn.execute(
                parked_events.delete().where(self.one_of(parked_events.c.event_id, self.unparked))
            )
        if self.parked:
            conn.execute(
                insert(parked_events),
                [
                    {
                        "event_id": str(i.event.event_id),
                        "pin": _park_key(i.event),
                        "domain": _domain_of(i.event),
                        "event": i.event.model_dump_json(),
                        "parked_at": self.now,
                    }
                    for i in self.parked
                ],
            )
        if self.changes:
            self.applier.outbox.write(conn, self.changes)


def append_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys): one COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    copy_rows(_driver(conn), table, rows)


_CITIZENS_STAGE = citizens.to_metadata(MetaData(), name="citizens_stage")
_STAGE_CITIZENS = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS citizens_stage "
    "(LIKE citizens INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_UPSERT_CITIZENS = (
    "INSERT INTO citizens SELECT * FROM citizens_stage "
    "ON CONFLICT (pin) DO UPDATE SET version = excluded.version, record = excluded.record, "
    "field_times = excluded.field_times, deceased = excluded.deceased, "
    "updated_at = excluded.updated_at"
)


def _upsert_citizens(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write the citizens a batch changed, new or not, in one statement."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":  # COPY into a session-local stage, then one upsert
        with _driver(conn).cursor() as cursor:
            cursor.execute(_STAGE_CITIZENS)
            append_rows(conn, _CITIZENS_STAGE, rows)
            cursor.execute(_UPSERT_CITIZENS)
        return
    if conn.dialect.name == "sqlite":
        upsert = sqlite_insert(citizens)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[citizens.c.pin],
                set_={name: upsert.excluded[name] for name in rows[0] if name != "pin"},
            ),
            rows,
        )
        return
    for row in rows:  # any other database: one statement per citizen
        found = conn.execute(update(citizens).where(citizens.c.pin == row["pin"]).values(**row))
        if not found.rowcount:
            conn.execute(insert(citizens), row)


def _driver(conn: Connection) -> Any:
    """The DB-API (psycopg) connection under `conn`, inside the same transaction."""
    return conn.connection.driver_connection


def _park_key(event: Event) -> str:
    """The PIN a parked event waits for: a re-establishment waits for its OLD PIN's citizen."""
    if event.event_type == "PinReestablished":
        return str(event.payload.old_pin)
    return event.subject_pin or ""


def _fact_order(fact: dict[str, Any]) -> tuple[datetime, int]:
    return (_aware(fact["occurred_at"]), fact["_order"])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return _aware(value).isoformat()


def _action(change_type: ChangeType) -> str:
    return {"CREATED": "set", "CORRECTED": "corrected", "ANNULLED": "annulled"}[change_type.value]


def _domain_of(event: Event) -> str:
    return next(d.name for d in EVENT_DOMAINS.values() if type(event) in d.events)


def _parse_parked(domain: str, text: str) -> Event:
    return event_from_data(EVENT_DOMAINS[domain], json.loads(text))
