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

from sqlalchemy import Connection, and_, insert, select, update

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
from schemas.models.base import ChangeType
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange
from schemas.models.envelope import Event
from streams.population.changes import DEFAULTS, MULTI_VALUED, FieldChange, field_changes

Status = Literal["applied", "late", "duplicate", "dead_letter", "parked", "reference"]


class OutboxWriter(Protocol):
    """Where applied changes go, inside the same transaction (the NPD's outbox)."""

    def write(self, conn: Connection, changes: Sequence[PopulationChange]) -> None: ...


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
    changes: list[PopulationChange] = field(default_factory=list)


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
        return died is not None and event.occurred_at.date().isoformat() > died


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
        self.now = applier.clock()
        self.citizens: dict[str, _Citizen | None] = {}
        self.links: dict[str, str] = {}
        self.new_facts: list[dict[str, Any]] = []
        self.switched_off: set[str] = set()
        self.applied_rows: list[dict[str, Any]] = []
        self.lineage_rows: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.changes: list[PopulationChange] = []
        self.rekeys: list[tuple[str, str]] = []
        self.parked: list[Incoming] = []
        self.unparked: list[str] = []

    # ------------------------------------------------------------------ batch flow

    def run(self, batch: Sequence[Incoming]) -> list[Outcome]:
        ids = [str(i.event.event_id) for i in batch]
        self.seen = set(
            self.conn.scalars(
                select(applied_events.c.event_id).where(applied_events.c.event_id.in_(ids))
            )
        )
        self._preload(batch)
        outcomes = [self._one(incoming) for incoming in batch]
        self._write(outcomes)
        return outcomes

    def _preload(self, batch: Sequence[Incoming]) -> None:
        pins: set[str] = {i.event.subject_pin for i in batch if i.event.subject_pin}
        for change in (c for i in batch for c in field_changes(i.event)):
            pins.add(change.pin)
        pins |= {
            str(i.event.payload.old_pin) for i in batch if i.event.event_type == "PinReestablished"
        }
        if not pins:
            return
        for link in self.conn.execute(
            select(pin_links.c.old_pin, pin_links.c.new_pin).where(pin_links.c.old_pin.in_(pins))
        ):
            self.links[str(link.old_pin)] = str(link.new_pin)
        wanted = {self.links.get(p, p) for p in pins}
        for row in self.conn.execute(select(citizens).where(citizens.c.pin.in_(wanted))):
            self.citizens[row.pin] = _Citizen(
                row.pin, row.version, dict(row.record), dict(row.field_times)
            )
        for pin in wanted:
            self.citizens.setdefault(pin, None)

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
            self.parked.append(incoming)
            return Outcome(
                incoming,
                "parked",
                "subject_unknown",
                "the subject is not (yet) a citizen; parked until their birth",
            )
        if (
            event.event_type in ("BirthRegistered", "PinReestablished")
            and outcome.status == "applied"
        ):
            self._unpark(event.subject_pin or "")  # the subject's PIN exists from now on
        return outcome

    # ------------------------------------------------------------------ one event

    def _apply(self, incoming: Incoming) -> Outcome:
        event = incoming.event
        changes = field_changes(event)
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
        if target in self.switched_off or not self._was_applied(target):
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
        result: list[PopulationChange] = []
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
        self.new_facts.append(
            {
                "pin": self._resolve(change.pin),
                "field": change.field,
                "value": change.value,
                "event_id": str(event.event_id),
                "occurred_at": event.occurred_at,
                "active": True,
                "_order": len(self.new_facts),
            }
        )

    def _active_facts(self, pin: str, fields: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        wanted = set(fields)
        rows = self.conn.execute(
            select(
                field_facts.c.id,
                field_facts.c.field,
                field_facts.c.value,
                field_facts.c.event_id,
                field_facts.c.occurred_at,
            ).where(
                and_(
                    field_facts.c.pin == pin, field_facts.c.field.in_(wanted), field_facts.c.active
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
        for fact in self.new_facts:
            if (
                fact["pin"] == pin
                and fact["field"] in wanted
                and fact["event_id"] not in self.switched_off
            ):
                out.setdefault(fact["field"], []).append(fact)
        return out

    def _switch_off(self, target: str) -> dict[str, set[str]]:
        """Deactivate every fact of `target`; return the (pin, fields) it had set."""
        self.switched_off.add(target)
        touched: dict[str, set[str]] = {}
        for row in self.conn.execute(
            select(field_facts.c.pin, field_facts.c.field).where(
                and_(field_facts.c.event_id == target, field_facts.c.active)
            )
        ):
            touched.setdefault(self._resolve(row.pin), set()).add(row.field)
        for fact in self.new_facts:
            if fact["event_id"] == target:
                touched.setdefault(fact["pin"], set()).add(fact["field"])
        return touched

    def _was_applied(self, event_id: str) -> bool:
        if any(r["event_id"] == event_id for r in self.applied_rows):
            return True
        return (
            self.conn.execute(
                select(applied_events.c.event_id).where(applied_events.c.event_id == event_id)
            ).first()
            is not None
        )

    def _event_type_of(self, event_id: str) -> str | None:
        for row in self.applied_rows:
            if row["event_id"] == event_id:
                return str(row["event_type"])
        found = self.conn.execute(
            select(applied_events.c.event_type).where(applied_events.c.event_id == event_id)
        ).first()
        return found[0] if found else None

    def _record_applied(self, event: Event, outcome: str, version: int | None) -> None:
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

    def _change(self, citizen: _Citizen, event: Event, changed: list[str]) -> PopulationChange:
        return PopulationChange(
            pin=citizen.pin,
            version=citizen.version,
            event_id=event.event_id,
            event_type=event.event_type,
            source=event.source,
            changed_fields=changed,
            occurred_at=event.occurred_at,
            applied_at=self.now,
            citizen=Citizen.model_validate(citizen.record),
        )

    # ------------------------------------------------------------------ parking

    def _unpark(self, pin: str) -> None:
        """Apply the events that waited for this PIN to exist (birth or re-established PIN)."""
        rows = self.conn.execute(
            select(parked_events)
            .where(parked_events.c.pin == pin)
            .order_by(parked_events.c.parked_at)
        ).all()
        waiting = [i for i in self.parked if i.event.subject_pin == pin]
        self.parked = [i for i in self.parked if i.event.subject_pin != pin]
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
                .where(field_facts.c.event_id.in_(self.switched_off))
                .values(active=False)
            )
        facts = [{k: v for k, v in f.items() if k != "_order"} for f in self.new_facts]
        for fact in facts:  # facts added before a re-establishment in this batch follow it
            fact["pin"] = self._resolve(fact["pin"])
        for fact in facts:
            if fact["event_id"] in self.switched_off:
                fact["active"] = False
        if facts:
            conn.execute(insert(field_facts), facts)
        new_rows: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for citizen in self.citizens.values():
            if citizen is None or not citizen.dirty or citizen.deleted:
                continue
            row = {
                "pin": citizen.pin,
                "version": citizen.version,
                "record": citizen.record,
                "field_times": citizen.times,
                "deceased": citizen.deceased,
                "updated_at": self.now,
            }
            (updates if citizen.exists else new_rows).append(row)
        if new_rows:
            conn.execute(insert(citizens), new_rows)
        for row in updates:
            conn.execute(update(citizens).where(citizens.c.pin == row["pin"]).values(**row))
        if self.rekeys:
            conn.execute(
                insert(pin_links),
                [
                    {"old_pin": old, "new_pin": new, "event_id": "", "linked_at": self.now}
                    for old, new in self.rekeys
                ],
            )
        if self.applied_rows:
            conn.execute(insert(applied_events), self.applied_rows)
        if self.lineage_rows:
            conn.execute(insert(lineage), self.lineage_rows)
        if self.unparked:
            conn.execute(parked_events.delete().where(parked_events.c.event_id.in_(self.unparked)))
        if self.parked:
            conn.execute(
                insert(parked_events),
                [
                    {
                        "event_id": str(i.event.event_id),
                        "pin": i.event.subject_pin or "",
                        "domain": _domain_of(i.event),
                        "event": i.event.model_dump_json(),
                        "parked_at": self.now,
                    }
                    for i in self.parked
                ],
            )
        if self.changes:
            self.applier.outbox.write(conn, self.changes)


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
