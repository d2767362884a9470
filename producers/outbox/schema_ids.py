"""The 5-byte Confluent header of each (topic, schema fingerprint), from the registry.

The subject is `<topic>-value` (TopicNameStrategy, as everywhere on the bus). The schema is looked
up first (production: `databus schemas register` put it there) and registered only when the
subject does not have it yet. Either way the answer is cached for the life of the relay.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from databus.outbox.fingerprints import schema_for_fingerprint
from databus.registry import value_subject
from schemas.avro_files import schema_text

log = logging.getLogger(__name__)

_NOT_FOUND = (40401, 40403)  # subject not found, schema not found under the subject


def confluent_header(schema_id: int) -> bytes:
    """Magic byte 0 and the 4-byte big-endian schema id."""
    return struct.pack(">bI", 0, schema_id)


@dataclass
class SchemaHeaders:
    """Resolves and caches the wire header of every (topic, fingerprint) the relay meets."""

    client: SchemaRegistryClient
    cache: dict[tuple[str, str], bytes] = field(default_factory=dict)
    """Headers resolved so far, by (topic, fingerprint); the relay reads it directly per row."""

    def header(self, topic: str, fingerprint: str) -> bytes:
        """The header for rows of `topic` written with the schema of `fingerprint`.

        Raises KeyError for a fingerprint no shipped schema has, SchemaRegistryError when the
        registry refuses (e.g. an incompatible schema), or a transport error when it is down.
        """
        cached = self.cache.get((topic, fingerprint))
        if cached is not None:
            return cached
        name = schema_for_fingerprint(fingerprint)
        subject = value_subject(topic)
        schema = Schema(schema_text(name), "AVRO")
        try:
            found: int | None = self.client.lookup_schema(subject, schema).schema_id
            if found is None:
                raise KeyError(f"the registry answered no id for subject {subject}")
            schema_id = found
            log.info("schema %s found under subject %s (id %s)", name, subject, schema_id)
        except SchemaRegistryError as exc:
            if exc.error_code not in _NOT_FOUND:
                raise
            schema_id = self.client.register_schema(subject, schema)
            log.info("schema %s registered under subject %s (id %s)", name, subject, schema_id)
        header = confluent_header(int(schema_id))
        self.cache[(topic, fingerprint)] = header
        return header
