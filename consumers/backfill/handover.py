"""Hand a backfilled sector database over to its sink: the consumer group's offsets.

Before reading the population database the backfill records the end offsets of the sector
topic; after its last commit it commits exactly those offsets for the sink's consumer group, so
the sink continues from there. Offsets cannot be committed for a group that has live members
(the broker refuses them, and a running sink would be racing the backfill), so the sink must be
stopped first: `group_members` lets the backfill refuse to start instead of failing at the end.
"""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from databus.security.client import secured


class HandoverError(RuntimeError):
    """The offsets cannot be read or committed (the message says why; no personal data)."""


def end_offsets(bootstrap: str, topic: str, *, timeout: float = 10.0) -> dict[int, int]:
    """The current end (high watermark) of every partition of `topic`."""
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"backfill-probe-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise HandoverError(f"topic {topic} does not exist: run `databus topics apply`")
        return {
            p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1])
            for p in sorted(metadata.partitions)
        }
    except KafkaException as exc:
        raise HandoverError(f"cannot read the end offsets of {topic}: {exc}") from None
    finally:
        consumer.close()


def group_members(bootstrap: str, group: str, *, timeout: float = 10.0) -> int:
    """How many live members consumer group `group` has (0 for an unknown group)."""
    admin = AdminClient(secured({"bootstrap.servers": bootstrap}))
    try:
        future = admin.describe_consumer_groups([group], request_timeout=timeout)[group]
        description = future.result()
    except KafkaException as exc:
        raise HandoverError(f"cannot describe consumer group {group}: {exc}") from None
    return len(description.members or [])


def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: list[int], *, timeout: float = 10.0
) -> dict[int, int]:
    """The offsets `group` has committed on `topic` (partitions without a commit left out)."""
    consumer = Consumer(secured({"bootstrap.servers": bootstrap, "group.id": group}))
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)
    except KafkaException as exc:
        raise HandoverError(f"cannot read the offsets of group {group}: {exc}") from None
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def commit_offsets(
    bootstrap: str, group: str, topic: str, offsets: dict[int, int], *, timeout: float = 10.0
) -> None:
    """Commit `offsets` on `topic` for `group` (which must have no live member)."""
    if group_members(bootstrap, group, timeout=timeout):
        raise HandoverError(
            f"consumer group {group} has live members: stop `databus run sink` and run the "
            "backfill again (it resumes and only hands over)"
        )
    consumer = Consumer(
        secured({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    )
    try:
        result = consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in sorted(offsets.items())],
            asynchronous=False,
        )
    except KafkaException as exc:
        raise HandoverError(f"cannot commit the offsets of group {group}: {exc}") from None
    finally:
        consumer.close()
    failed = [tp for tp in result or [] if tp.error is not None]
    if failed:
        raise HandoverError(f"cannot commit the offsets of group {group}: {failed[0].error}")
