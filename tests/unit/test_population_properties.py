"""The population sync's invariants, by property, on SQLite (`tests/population_machine.py`).

The fast profile of the default suite; DATABUS_POPULATION_EXAMPLES runs more examples.
The same machine runs on PostgreSQL in tests/integration/test_population_properties.py.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.population_machine import SqlMachine

EXAMPLES = int(os.environ.get("DATABUS_POPULATION_EXAMPLES", "40"))

TestPopulationSequences = SqlMachine.TestCase
TestPopulationSequences.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
