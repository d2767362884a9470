"""The broker itself enforces who may do what (TLS + SASL/SCRAM + ACLs from the topology)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from databus.security.acl_admin import AclAdmin, AclPlan
from databus.security.acls import AclRule, sector_group_prefix
from databus.security.client import KafkaAuthenticationError, check_login, secured
from databus.security.principals import agency_principal
from tests.secure_harness import PROJECT_ROOT, SecureBus, admin_security

HOTICH = agency_principal("VN/GOV/BTP/hotich")
THUE = agency_principal("VN/GOV/BTC/thue")


def _produce(bus: SecureBus, principal: str, topic: str) -> KafkaError | None:
    """Produce one record as `principal`; the delivery error, if any."""
    producer = Producer(
        secured(
            {"bootstrap.servers": bus.bootstrap, "message.timeout.ms": 20000},
            bus.security(principal),
        )
    )
    errors: list[KafkaError | None] = []
    producer.produce(topic, b"x", b"k", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(30)
    assert errors, "no delivery report"
    return errors[0]


def _consume_error(bus: SecureBus, principal: str, group: str, topic: str) -> KafkaError | None:
    """Subscribe as `principal` in `group`; the first error the consumer reports (or None)."""
    consumer = Consumer(
        secured(
            {
                "bootstrap.servers": bus.bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
            },
            bus.security(principal),
        )
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error():
                return message.error()
            if consumer.assignment():
                return None
        return None
    finally:
        consumer.close()


def test_a_ministry_writes_its_own_topic_but_not_another_ministrys(secure_bus: SecureBus) -> None:
    own = f"{secure_bus.prefix}civilstatus.events.v1"
    other = f"{secure_bus.prefix}residence.events.v1"
    assert _produce(secure_bus, HOTICH, own) is None
    refused = _produce(secure_bus, HOTICH, other)
    assert refused is not None
    assert refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_sector_reads_only_its_own_topics_in_its_own_groups(secure_bus: SecureBus) -> None:
    prefix = secure_bus.prefix
    own_group = sector_group_prefix("tax", prefix) + "reader"
    own_topic = f"{prefix}sector.tax.citizens.v1"
    assert _consume_error(secure_bus, THUE, own_group, own_topic) is None

    other_topic = f"{prefix}sector.health.citizens.v1"
    error = _consume_error(secure_bus, THUE, own_group, other_topic)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    other_group = sector_group_prefix("health", prefix) + "reader"
    error = _consume_error(secure_bus, THUE, other_group, own_topic)
    assert error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED


def test_a_wrong_password_is_refused_naming_the_principal_not_the_secret(
    secure_bus: SecureBus,
) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    with pytest.raises(KafkaAuthenticationError) as refused:
        check_login(secure_bus.bootstrap, secure_bus.security(HOTICH, wrong), timeout=20)
    assert HOTICH in str(refused.value)
    assert wrong not in str(refused.value)
    assert secure_bus.passwords[HOTICH] not in str(refused.value)


def test_a_plaintext_client_cannot_use_the_tls_port(secure_bus: SecureBus) -> None:
    admin = AdminClient({"bootstrap.servers": secure_bus.bootstrap, "socket.timeout.ms": 3000})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=8)


def test_acl_apply_removes_what_is_not_implied_and_twice_changes_nothing(
    secure_bus: SecureBus,
) -> None:
    stale = AclRule(HOTICH, "topic", "literal", f"{secure_bus.prefix}identity.events.v1", "Write")
    acls = AclAdmin(secure_bus.bootstrap, admin_security(secure_bus.stack_dir))
    acls.apply(AclPlan(create=(stale,), delete=(), kept=0))
    assert stale in acls.held()

    def run(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "cli", "acl", *args, "--json"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **secure_bus.admin_env()},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode in {0, 3}, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    first = run("apply")
    assert any(rule["name"] == stale.name for rule in first["delete"])
    assert stale not in acls.held()
    second = run("apply")
    assert second["create"] == [] and second["delete"] == []
    assert run("plan")["create"] == []
