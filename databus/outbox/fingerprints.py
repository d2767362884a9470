"""Which shipped Avro schema wrote a body: names, fingerprints and back.

An outbox row stores the first 16 hex digits of sha256 over the schema's canonical text
(`schemas.avro_files.schema_text`). The relay maps it back to the schema text it registers (or
looks up) under the topic's subject, so the row itself never depends on a registry id.
"""

from __future__ import annotations

import hashlib
from functools import cache

from schemas.avro_files import schema_names, schema_text
from schemas.catalog import EVENT_DOMAINS
from schemas.models.base import Contract
from schemas.models.envelope import Event

FINGERPRINT_LENGTH = 16


@cache
def schema_fingerprint(name: str) -> str:
    """First 16 hex digits of sha256 over the canonical text of the shipped schema `name`."""
    return hashlib.sha256(schema_text(name).encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


@cache
def _by_fingerprint() -> dict[str, str]:
    return {schema_fingerprint(name): name for name in schema_names()}


def schema_for_fingerprint(fingerprint: str) -> str:
    """The name of the shipped schema with this fingerprint (KeyError if none has it)."""
    try:
        return _by_fingerprint()[fingerprint]
    except KeyError:
        raise KeyError(f"no shipped Avro schema has fingerprint {fingerprint!r}") from None


@cache
def schema_name_for(model: type[Contract]) -> str:
    """The Avro record a model is written as on its topic.

    An event is written as its domain's record (a `BirthRegisteredEvent` as `CivilStatusEvent`,
    the payload a union branch); a plain record (Citizen, PopulationChange ...) as itself.
    """
    if issubclass(model, Event):
        for domain in EVENT_DOMAINS.values():
            if model in domain.events or model is domain.base:
                return domain.record_name
        raise KeyError(f"event model {model.__name__} belongs to no event domain")
    schema_text(model.__name__)  # KeyError when no schema is shipped for it
    return model.__name__
