"""The population machine (`tests/population_machine.py`) on SQLite AND PostgreSQL at once.

Every batch goes to both; outcomes must agree batch by batch and the tables at the end (plus
the machine's own checks: batch cuts, replay from scratch, mandatory fields). On PostgreSQL
once with small batches written as pipelined inserts (the default), once with every batch
copied.
DATABUS_POPULATION_PG_EXAMPLES runs more examples.
"""

from __future__ import annotations

import os
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from streams.population import store as population_store
from tests.population_machine import SqlMachine

EXAMPLES = int(os.environ.get("DATABUS_POPULATION_PG_EXAMPLES", "20"))


@pytest.mark.parametrize("writes", ["pipelined when small", "always copied"])
def test_sqlite_and_postgresql_end_with_the_same_citizens(
    pg_url: str, writes: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if writes == "always copied":  # the COPY path for every batch, however small
        monkeypatch.setattr(population_store, "SMALL_BATCH_ROWS", -1)

    class OnPostgres(SqlMachine):
        urls: ClassVar[tuple[str, ...]] = (pg_url,)

    run_state_machine_as_test(
        OnPostgres,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
            ],
        ),
    )
