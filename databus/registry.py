"""The Confluent-compatible schema registry: clients and the serde wiring we use everywhere.

Subjects follow TopicNameStrategy (`<topic>-value`), set explicitly: the client's newer default
asks the registry for subject associations, which Apicurio does not implement.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

SUBJECT_STRATEGY = "TOPIC"


def registry_client(url: str) -> SchemaRegistryClient:
    """A caching client of the registry at `url` (the `/apis/ccompat/v7` base for Apicurio)."""
    return SchemaRegistryClient({"url": url})


def value_subject(topic: str) -> str:
    """The subject of a topic's values under TopicNameStrategy."""
    return f"{topic}-value"


def avro_serializer(
    client: SchemaRegistryClient, schema_str: str, *, auto_register: bool = False
) -> AvroSerializer:
    """Serializer for one record schema, writing the Confluent wire format."""
    conf: dict[str, Any] = {
        "auto.register.schemas": auto_register,
        "use.latest.version": not auto_register,
        "normalize.schemas": False,
        "subject.name.strategy.type": SUBJECT_STRATEGY,
    }
    serializer: AvroSerializer = AvroSerializer(client, schema_str, conf=conf)
    return serializer


def avro_deserializer(client: SchemaRegistryClient) -> AvroDeserializer:
    """Deserializer that resolves the writer schema by the id in each message."""
    deserializer: AvroDeserializer = AvroDeserializer(
        client, conf={"subject.name.strategy.type": SUBJECT_STRATEGY}
    )
    return deserializer
