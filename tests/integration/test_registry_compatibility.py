"""The real registry enforces BACKWARD_TRANSITIVE compatibility, set by the launcher at start."""

from __future__ import annotations

import json

import httpx
import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from databus.registry import registry_client
from schemas.avro_files import schema_dict
from tests.conftest import LocalStack


def _variant(extra_fields: list[dict[str, object]], drop: str | None = None) -> str:
    schema = schema_dict("Heartbeat")
    schema["fields"] = [f for f in schema["fields"] if f["name"] != drop] + extra_fields
    return json.dumps(schema)


def test_global_compatibility_is_backward_transitive(local_stack: LocalStack) -> None:
    config = httpx.get(f"{local_stack.registry_url}/config").json()
    assert config["compatibilityLevel"] == "BACKWARD_TRANSITIVE"


def test_incompatible_change_is_refused_and_compatible_one_accepted(
    local_stack: LocalStack, topic_prefix: str
) -> None:
    client = registry_client(local_stack.registry_url)
    subject = f"{topic_prefix}bus.heartbeats.v1-value"
    first = client.register_schema(subject, Schema(_variant([]), "AVRO"))

    # A new required field without a default: old records cannot be read with it.
    required = _variant([{"name": "region", "type": "string", "doc": "new, required"}])
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, Schema(required, "AVRO"))
    assert refused.value.http_status_code == 409

    # An optional field with a default is a compatible evolution.
    optional = _variant(
        [{"name": "region", "type": ["null", "string"], "default": None, "doc": "new, optional"}]
    )
    second = client.register_schema(subject, Schema(optional, "AVRO"))
    assert second != first
    versions = httpx.get(f"{local_stack.registry_url}/subjects/{subject}/versions").json()
    assert versions == [1, 2]
