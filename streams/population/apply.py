"""Apply a batch of source events to the population database, in one transaction.

For each event, in order: skip it if its id was applied before; resolve re-established PINs;
check it against the rules (`rules.py`: authority, the subject's state, what a correction may
correct); then apply it field by field as facts (the newest `occurred_at` wins; a late, older
event is recorded but changes nothing; a CORRECTED event replaces the facts of the event it
corrects in the fields it carries, an ANNULLED event switches them all off and the fields fall
back to what remains); bump the citizen's version, write lineage, and hand the resulting
PopulationChanges to the outbox. `store.py` loads what the batch needs and writes what it
produced; `parking.py` keeps events that came before their subject's PIN; `reestablish.py`
moves a citizen to a new PIN. The caller commits, then commits the Kafka offsets.

No event stops a batch: a refusal found only once the event changed the batch's state (a
mandatory field it would empty), or an unexpected error while applying it, makes the batch run
again inside its savepoint with that event set aside (refused, or isolated as `apply_failed`).
Only failures of infrastructure (`isolation.is_infrastructure`) propagate.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from databus.failures import failure_trace
from databus.topology.model import Topology
from schemas.models.base import ChangeType
from schemas.models.envelope import Event
from streams.population import reestablish, rules
from streams.population.changes import DEFAULTS, MULTI_VALUED, FieldChange, field_changes
from streams.population.isolation import FaultInjector, batch_savepoint, is_infrastructure
from streams.population.model import (
    APPLY_FAILED,
    AppliedChange,
    CitizenState,
    Incoming,
    OutboxWriter,
    Outcome,
    Status,
)
from streams.population.parking import UNPARKS, Parking
from streams.population.store import BatchStore
from streams.population.writes import append_rows

__all__ = [
    "AppliedChange",
    "Incoming",
    "OutboxWriter",
    "Outcome",
    "PopulationApplier",
    "append_rows",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetAside:
    """An event a batch's re-run refuses up front (reason; error_class when isolated)."""

    reason: str
    message: str
    error_class: str | None = None


Occurrence = tuple[str, int]
"""(event id, n): the n-th time a batch run meets that event (a duplicate delivery later in
the batch may well apply where its first delivery was set aside)."""


class _RedoError(Exception):
    """The batch must run again with this event set aside."""

    def __init__(self, occurrence: Occurrence, verdict: SetAside) -> None:
        super().__init__(occurrence[0])
        self.occurrence = occurrence
        self.verdict = verdict


class _RefusedError(Exception):
    def __init__(self, refusal: rules.Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


class _ParkedError(Exception):
    pass


class PopulationApplier:
    """Applies batches of events for one topology (authority comes from its sources)."""

    def __init__(
        self,
        topology: Topology,
        outbox: OutboxWriter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        faults: FaultInjector | None = None,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.faults = faults
        self.authority = {
            s.agency: frozenset(s.authoritative_for) for s in topology.sources.values()
        }

    def apply_batch(self, conn: Connection, batch: Sequence[Incoming]) -> list[Outcome]:
        """Apply `batch` through `conn` (inside the caller's transaction).

        Every event gets an outcome; one that fails unexpectedly is isolated (`apply_failed`,
        with its exception's type) and the others apply. Infrastructure failures propagate.
        """
        return self._isolating(conn, list(batch), {})

    def _isolating(
        self, conn: Connection, batch: list[Incoming], aside: dict[Occurrence, SetAside]
    ) -> list[Outcome]:
        # A run meets the same events in the same order up to the first one set aside, so the
        # occurrences found by earlier runs stay valid.
        while True:
            try:
                with batch_savepoint(conn):  # one savepoint per batch run, not per event
                    return _Batch(self, conn, aside).run(batch)
            except _RedoError as redo:
                if redo.occurrence in aside:  # set aside already: the runs are not repeatable
                    raise RuntimeError("a batch run failed again on an event set aside") from redo
                aside[redo.occurrence] = redo.verdict
            except Exception as error:
                if is_infrastructure(error):
                    raise
                if len(batch) > 1:  # no one event to blame (e.g. writing): one at a time
                    log.warning(
                        "a batch of %d failed outside any one event (%s); applying its events "
                        "one by one",
                        len(batch),
                        type(error).__name__,
                    )
                    return [o for i in batch for o in self._isolating(conn, [i], {})]
                first = (str(batch[0].event.event_id), 1)
                if first in aside:  # it fails without its only event: not the event's fault
                    raise
                aside[first] = _isolated(first[0], error)


def _isolated(event_id: str, error: BaseException) -> SetAside:
    """Set an event aside for an unexpected error: logged with its id, the error's type and
    where it was raised, never the error's message (it may hold personal values)."""
    log.error("event %s isolated: %s", event_id, failure_trace(error))
    return SetAside(
        APPLY_FAILED, "unexpected error while applying the event; isolated", type(error).__name__
    )


class _Batch:
    """One run of one batch: the rules over the store's state, event by event."""

    def __init__(
        self, applier: PopulationApplier, conn: Connection, aside: dict[Occurrence, SetAside]
    ) -> None:
        self.applier = applier
        self.aside = aside
        self.met: Counter[str] = Counter()
        self.current: Occurrence = ("", 0)
        self.store = BatchStore(conn, applier.clock())
        self.parking = Parking(self.store)
        self.field_changes: dict[str, list[FieldChange]] = {}
        self.released: list[Outcome] = []
        """Outcomes of events released from parking that did not apply (to dead-letter)."""

    # ------------------------------------------------------------------ batch flow

    def run(self, batch: Sequence[Incoming]) -> list[Outcome]:
        events = [i.event for i in batch]
        self.store.load(events, {self.store.event_id(e): self._changes_of(e) for e in events})
        self.parking.load(batch)
        self.store.load_early_facts(
            {e.subject_pin or "" for e in events if e.event_type in UNPARKS}
        )
        outcomes = [self._one(incoming) for incoming in batch]
        self.store.write(self.applier.outbox)
        self.parking.write()
        return outcomes + self.released

    def _changes_of(self, event: Event) -> list[FieldChange]:
        """`field_changes(event)`, computed once per event and batch."""
        key = self.store.event_id(event)
        found = self.field_changes.get(key)
        if found is None:
            found = self.field_changes[key] = field_changes(event)
        return found

    def _one(self, incoming: Incoming) -> Outcome:
        event = incoming.event
        store = self.store
        event_id = store.event_id(event)
        self.met[event_id] += 1
        occurrence = (event_id, self.met[event_id])
        if event_id in store.seen:
            return Outcome(incoming, "duplicate", "event.duplicate")
        verdict = self.aside.get(occurrence)
        if verdict is not None:
            return Outcome(
                incoming, "dead_letter", verdict.reason, verdict.message, [], verdict.error_class
            )
        store.seen.add(event_id)
        if event.event_type == "AdministrativeUnitsReorganized":
            store.record_applied(event, "reference", None)
            return Outcome(incoming, "reference")
        self.current = occurrence
        try:
            outcome = self._apply(incoming)
        except _RefusedError as refused:
            store.seen.discard(event_id)  # a replay after a fix must be able to apply it
            return Outcome(incoming, "dead_letter", refused.refusal.reason, refused.refusal.message)
        except _ParkedError:
            store.seen.discard(event_id)
            self.parking.park(incoming)
            return Outcome(
                incoming,
                "parked",
                "subject_unknown",
                "the subject is not (yet) a citizen; parked until their birth",
            )
        except _RedoError:
            raise
        except Exception as error:
            if is_infrastructure(error):
                raise
            raise _RedoError(occurrence, _isolated(event_id, error)) from error
        if (
            outcome.status == "applied"
            and event.event_type in UNPARKS
            and event.change_type is ChangeType.CREATED  # a correction makes no new PIN
        ):
            self._adopt_early_facts(event)
            self._unpark(event.subject_pin or "")  # the subject's PIN exists from now on
        return outcome

    def _unpark(self, pin: str) -> None:
        """Apply the events that waited for this PIN to exist (birth or re-established PIN)."""
        for incoming in self.parking.release(pin):
            outcome = self._one(incoming)
            if outcome.status == "dead_letter":
                self.released.append(outcome)

    def _adopt_early_facts(self, creator: Event) -> None:
        """Give a citizen what events applied before its PIN existed gave that PIN.

        Only another citizen's birth reaches a PIN that is not (yet) a citizen: a child names
        a parent whose own birth, or re-established PIN, comes later (another partition, a late
        registration). Each such fact becomes its own change, attributed to the event that gave
        it, as if the parent had existed when it was applied.
        """
        store = self.store
        pin = creator.subject_pin or ""
        citizen = store.get(pin)
        assert citizen is not None
        store.load_early_facts({pin})  # a creator that was parked is not in the preload
        creator_id = store.event_id(creator)
        early = store.early_facts.pop(pin, []) + [
            f for f in store.facts_by_pin.get(pin, []) if f["event_id"] != creator_id
        ]
        for fact in sorted(early, key=rules.fact_order):
            name = fact["field"]
            if name not in MULTI_VALUED or store.is_off(fact["event_id"], name):
                continue
            citizen.record[name] = [*citizen.record.get(name, []), fact["value"]]
            citizen.times[name] = _iso(fact["occurred_at"])
            citizen.version += 1
            citizen.dirty = True
            store.lineage_rows.append(
                {
                    "pin": pin,
                    "version": citizen.version,
                    "fields": [name],
                    "event_id": fact["event_id"],
                    "event_type": fact["_type"],
                    "source": fact["_source"],
                    "action": "set",
                    "occurred_at": fact["occurred_at"],
                    "applied_at": store.now,
                }
            )
            store.changes.append(
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
        store = self.store
        changes = self._changes_of(event)
        granted = self.applier.authority.get(event.source, frozenset())
        _check(rules.authority(event, changes, granted))
        if event.event_type == "PinReestablished":
            _check(reestablish.admit(store, event))
            self._inject_fault(event)
            moved = reestablish.move(store, event, changes)
            new_pin = store.resolve(event.subject_pin or "")
            return self._apply_created(incoming, moved, also_changed={new_pin: {"pin"}})
        subject = store.resolve(event.subject_pin or "")
        citizen = store.get(subject)
        admitted = _check(rules.admit(event, citizen))
        self._inject_fault(event)
        if admitted.creates:
            store.create(subject)
        if event.change_type is ChangeType.CREATED:
            return self._apply_created(incoming, changes)
        # CORRECTED or ANNULLED: the facts of the target event stop counting (in the fields a
        # correction carries; all of them for an annulment). A target already corrected
        # (earlier in this batch or before) still counts as applied: the outcome must not
        # depend on where the batch boundaries fall.
        target = str(event.corrects_event_id)
        _check(rules.amendment(event, store.event_type_of(target)))
        touched = store.switch_off(target, rules.switched_off_fields(event, changes))
        if event.change_type is not ChangeType.ANNULLED:
            for change in changes:
                touched.setdefault(store.resolve(change.pin), set()).add(change.field)
                store.add_fact(event, change)
        return self._settle(incoming, touched)

    def _inject_fault(self, event: Event) -> None:
        """The test hook (`isolation.FaultInjector`): fail once the rules admitted the event."""
        if self.applier.faults is not None:
            self.applier.faults.check(event)

    def _apply_created(
        self,
        incoming: Incoming,
        changes: list[FieldChange],
        *,
        also_changed: dict[str, set[str]] | None = None,
    ) -> Outcome:
        """A new fact: set fields whose current value is older; no fact history needed."""
        event = incoming.event
        store = self.store
        when = rules.aware(event.occurred_at)
        when_text = when.isoformat()
        changed: dict[str, set[str]] = {k: set(v) for k, v in (also_changed or {}).items()}
        late: dict[str, set[str]] = {}
        history: dict[str, set[str]] = {}
        for change in changes:
            store.add_fact(event, change)
            pin = store.resolve(change.pin)
            citizen = store.get(pin)
            if citizen is None:  # a parent who is not a citizen of this database
                continue
            placed = rules.place(change.field, citizen.times.get(change.field), when, when_text)
            if placed == "late":
                late.setdefault(pin, set()).add(change.field)
                continue
            if placed == "history":
                history.setdefault(pin, set()).add(change.field)
                continue
            value = rules.new_value(change.field, citizen.record.get(change.field), change.value)
            _set_time_text(citizen, change.field, when_text)
            if citizen.record.get(change.field, DEFAULTS.get(change.field)) != value:
                citizen.record[change.field] = value
                changed.setdefault(pin, set()).add(change.field)
        return self._finish(incoming, changed, late, history)

    def _settle(self, incoming: Incoming, touched: dict[str, set[str]]) -> Outcome:
        """Recompute the touched fields from their facts (corrections, annulments)."""
        changed: dict[str, set[str]] = {}
        late: dict[str, set[str]] = {}
        for pin, fields in touched.items():
            citizen = self.store.get(pin)
            if citizen is None:
                continue
            changed[pin], late[pin] = self._recompute(citizen, fields, incoming.event)
        return self._finish(incoming, changed, late, {})

    def _finish(
        self,
        incoming: Incoming,
        changed: dict[str, set[str]],
        late: dict[str, set[str]],
        history: dict[str, set[str]],
    ) -> Outcome:
        """Versions, lineage, the applied-event row and the PopulationChanges of one event."""
        event = incoming.event
        store = self.store
        event_id = store.event_id(event)
        action = _action(event.change_type)
        for pin, fields in history.items():
            citizen = store.get(pin)
            assert citizen is not None
            more_changed, more_late = self._recompute(citizen, fields, event)
            changed.setdefault(pin, set()).update(more_changed)
            late.setdefault(pin, set()).update(more_late)
        for pin, fields in changed.items():
            citizen = store.get(pin)
            if citizen is not None and not fields.isdisjoint(rules.MANDATORY_FIELDS):
                missing = rules.missing_mandatory(citizen.record)
                if missing:  # the batch's state holds the change already: run it again
                    refusal = rules.lost_mandatory(missing)
                    raise _RedoError(self.current, SetAside(refusal.reason, refusal.message))
        result: list[AppliedChange] = []
        for pin in sorted(set(changed) | set(late)):
            citizen = store.get(pin)
            assert citizen is not None
            fields_changed = changed.get(pin, set())
            if fields_changed:
                citizen.version += 1
                citizen.dirty = True
                result.append(self._change(citizen, event, sorted(fields_changed)))
            late_here = late.get(pin, set())
            for act, names in ((action, fields_changed - late_here), ("late", late_here)):
                if names:  # one lineage row per citizen, version, event and action
                    store.lineage_rows.append(
                        {
                            "pin": pin,
                            "version": citizen.version,
                            "fields": sorted(names),
                            "event_id": event_id,
                            "event_type": event.event_type,
                            "source": event.source,
                            "action": act,
                            "occurred_at": event.occurred_at,
                            "applied_at": store.now,
                        }
                    )
        any_late = any(late.values())
        subject = store.get(store.resolve(event.subject_pin or ""))
        status: Status = "late" if any_late and not result else "applied"
        store.record_applied(event, status, subject.version if subject else None)
        store.changes += result
        return Outcome(incoming, status, "event.late" if status == "late" else None, changes=result)

    def _recompute(
        self, citizen: CitizenState, fields: set[str], event: Event
    ) -> tuple[set[str], set[str]]:
        """(fields whose value changed, fields where this event's fact lost to a newer one)."""
        changed: set[str] = set()
        late: set[str] = set()
        facts = self.store.active_facts(citizen.pin, fields)
        event_id = self.store.event_id(event)
        for name in fields:
            value, newest, lost = rules.settle(name, facts.get(name, []), event_id)
            if lost:
                late.add(name)
            if citizen.record.get(name, DEFAULTS.get(name)) != value:
                citizen.record[name] = value
                changed.add(name)
            _set_time(citizen, name, newest)
        return changed, late

    # ------------------------------------------------------------------ changes

    def _change(self, citizen: CitizenState, event: Event, changed: list[str]) -> AppliedChange:
        return self._change_of(
            citizen,
            self.store.event_id(event),
            event.event_type,
            event.source,
            event.occurred_at,
            changed,
        )

    def _change_of(
        self,
        citizen: CitizenState,
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
            self.store.now,
            dict(citizen.record),  # values are replaced, never changed in place
        )


def _check(admission: rules.Admission | rules.Refusal | None) -> Any:
    """Raise for a refusal or a park; return what was admitted."""
    if isinstance(admission, rules.Refusal):
        raise _RefusedError(admission)
    if isinstance(admission, rules.Park):
        raise _ParkedError
    return admission


def _set_time(citizen: CitizenState, field: str, when: datetime | None) -> None:
    """Keep the time of the field's value; a changed time is written even when the value
    stays (it decides what a later, older event may overwrite)."""
    _set_time_text(citizen, field, None if when is None else _iso(when))


def _set_time_text(citizen: CitizenState, field: str, time: str | None) -> None:
    """`_set_time` with the time's ISO text at hand."""
    if citizen.times.get(field) != time:
        if time is None:
            del citizen.times[field]
        else:
            citizen.times[field] = time
        citizen.dirty = True


def _iso(value: datetime) -> str:
    return rules.aware(value).isoformat()


def _action(change_type: ChangeType) -> str:
    return {"CREATED": "set", "CORRECTED": "corrected", "ANNULLED": "annulled"}[change_type.value]
