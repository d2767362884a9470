"""The population machine (`tests/population_machine.py`) on SQLite AND PostgreSQL at once.

Every batch goes to both; outcomes must agree batch by batch and the tables at the end (plus
the machine's own checks: batch cuts, replay from scratch, mandatory fields).
DATABUS_POPULATION_PG_EXAMPLES runs more examples.
"""

from __future__ import annotations

import os
from typing import ClassVar

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.population_machine import SqlMachine

EXAMPLES = int(os.environ.get("DATABUS_POPULATION_PG_EXAMPLES", "20"))


def test_sqlite_and_postgresql_end_with_the_same_citizens(pg_url: str) -> None:
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
