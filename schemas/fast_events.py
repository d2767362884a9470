"""Validate an event's plain data and write its Avro body without building a pydantic model.

`FastEvents(domain)` holds one compiled checker (`schemas/_fast_check.pyx`) per event type of a
domain. `encode(data, out)` appends to `out` the Avro body `schemas.codec.event_from_data` and
the domain's writer give for `data`, and returns True; or returns False, `out` untouched, when
the data needs the pydantic path: a value not in its canonical JSON form, a name part not seen
yet, a rule that does not hold. The pydantic path then gives the same bytes, or the error that
names the field. So the checker only ever accepts: every refusal, and every message, is
pydantic's. What it reproduces, and how it is held to pydantic, is in docs/architecture.md
("The compiled event checker").

An event type whose model uses something the checker does not reproduce (`fast_program`
raises `UnsupportedModelError`) always takes the pydantic path; so does every type when the C
extension is not built.
"""

from __future__ import annotations

from typing import Any, Protocol

from schemas.avro_files import schema_dict
from schemas.catalog import EventDomain
from schemas.domain import PIN_PLACE_CODES
from schemas.fast_program import UnsupportedModelError, event_program
from schemas.models.types import _VALID_NAMES


class _Checker(Protocol):
    def __call__(self, data: dict[str, Any], out: bytearray, /) -> bool: ...


try:
    from schemas._fast_check import FastChecker

    COMPILED = True
    """Whether the compiled checker is built (`setup.py`)."""
except ImportError:  # pragma: no cover - a tree installed without its C extension
    COMPILED = False


class FastEvents:
    """The compiled checkers of one event domain (see the module's docstring)."""

    def __init__(self, domain: EventDomain) -> None:
        self.domain = domain
        self.unsupported: dict[str, str] = {}
        """Event types that always take the pydantic path, and why."""
        self._checkers: dict[str, _Checker] = {}
        schema = schema_dict(domain.record_name)
        for cls in domain.events:
            event_type = str(cls.model_fields["event_type"].default)
            if not COMPILED:
                self.unsupported[event_type] = "the C extension is not built"
                continue
            try:
                program = event_program(cls, schema)
            except UnsupportedModelError as exc:
                self.unsupported[event_type] = str(exc)
                continue
            self._checkers[event_type] = FastChecker(program, PIN_PLACE_CODES, _VALID_NAMES)

    def encode(self, data: dict[str, Any], out: bytearray) -> bool:
        """Append the Avro body of valid `data` to `out` and return True; False (and `out`
        untouched) when the data must go through pydantic."""
        if type(data) is not dict:
            return False
        event_type = data.get("event_type")
        checker = self._checkers.get(event_type) if type(event_type) is str else None
        return checker is not None and checker(data, out)
