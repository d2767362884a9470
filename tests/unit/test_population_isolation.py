"""An unexpected error while applying one event isolates that event only (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.exc import OperationalError

from databus.population.schema import applied_events, citizens, create_population_schema
from schemas.domain import make_pin
from streams.population.apply import AppliedChange, Incoming, PopulationApplier
from streams.population.isolation import FaultInjector, is_infrastructure
from streams.population.store import BatchStore
from tests.population_events import T0, ModelOutbox, birth, event, topology

PINS = [make_pin("001", date(2024, 5, 17), "FEMALE", 500_000 + i) for i in range(4)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'npd.db'}")
    create_population_schema(engine)
    yield engine
    engine.dispose()


def applied(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(applied_events.c.event_id)))


def test_a_fault_while_applying_isolates_the_event_and_the_rest_applies(engine: Engine) -> None:
    births = [birth(pin) for pin in PINS]
    move = event("PermanentResidenceRegistered", PINS[0], T0 + timedelta(days=1))
    bad = births[2]
    applier = PopulationApplier(
        topology(), ModelOutbox(), faults=FaultInjector(frozenset({str(bad.event_id)}))
    )
    with engine.begin() as conn:
        outcomes = applier.apply_batch(conn, [Incoming(e) for e in [*births, move]])
    isolated = [o for o in outcomes if o.status == "dead_letter"]
    assert [(o.incoming.event.event_id, o.reason, o.error_class) for o in isolated] == [
        (bad.event_id, "apply_failed", "InjectedFaultError")
    ]
    assert PINS[2] not in isolated[0].message
    assert applied(engine) == {str(e.event_id) for e in [*births, move] if e is not bad}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(citizens)).scalar() == 3


class FailingOutbox(ModelOutbox):
    """Fails when asked to write a change of one event (a bug in the writer)."""

    def __init__(self, event_id: str) -> None:
        super().__init__()
        self.event_id = event_id

    def write(self, conn: Connection, changes: Sequence[AppliedChange]) -> None:
        if any(c.event_id == self.event_id for c in changes):
            raise TypeError("writer bug")
        super().write(conn, changes)


def test_a_failure_while_writing_is_found_event_by_event(engine: Engine) -> None:
    births = [birth(pin) for pin in PINS]
    outbox = FailingOutbox(str(births[1].event_id))
    with engine.begin() as conn:
        outcomes = PopulationApplier(topology(), outbox).apply_batch(
            conn, [Incoming(e) for e in births]
        )
    assert [(o.status, o.reason, o.error_class) for o in outcomes] == [
        ("applied", None, None),
        ("dead_letter", "apply_failed", "TypeError"),
        ("applied", None, None),
        ("applied", None, None),
    ]
    assert applied(engine) == {str(e.event_id) for e in births} - {str(births[1].event_id)}
    assert {str(c.event_id) for c in outbox.changes} == applied(engine)


def test_an_isolated_event_applies_when_replayed_after_the_fix(engine: Engine) -> None:
    bad = birth(PINS[0])
    faulty = PopulationApplier(
        topology(), ModelOutbox(), faults=FaultInjector(frozenset({str(bad.event_id)}))
    )
    with engine.begin() as conn:
        [first] = faulty.apply_batch(conn, [Incoming(bad)])
    assert first.reason == "apply_failed"
    with engine.begin() as conn:
        [again] = PopulationApplier(topology(), ModelOutbox()).apply_batch(conn, [Incoming(bad)])
    assert again.status == "applied"


def test_only_infrastructure_failures_are_retryable() -> None:
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert is_infrastructure(lost)
    assert not is_infrastructure(TypeError("bug"))
    assert not is_infrastructure(KeyError("pin"))


def test_the_fault_injector_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABUS_SYNC_FAULT_EVENT_IDS", raising=False)
    assert FaultInjector.from_env() is None
    monkeypatch.setenv("DATABUS_SYNC_FAULT_EVENT_IDS", "a, b")
    injector = FaultInjector.from_env()
    assert injector is not None and injector.event_ids == {"a", "b"}


def test_a_failure_no_event_causes_propagates(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failing even without its events, a batch is not the events' fault: no loop, no isolation."""

    def broken(*_: object) -> None:
        raise TypeError("bug in loading")

    monkeypatch.setattr(BatchStore, "load", broken)
    with engine.begin() as conn, pytest.raises(TypeError):
        PopulationApplier(topology(), ModelOutbox()).apply_batch(
            conn, [Incoming(birth(pin)) for pin in PINS]
        )
