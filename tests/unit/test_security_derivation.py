"""Principals and ACLs derived from deploy/topology.yaml: who may do what, and nothing more."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from databus.security.acl_admin import to_binding, to_rule
from databus.security.acls import CLUSTER, MONITOR_GROUP_PREFIX, implied_acls
from databus.security.client import KafkaSecurity, secured
from databus.security.principals import agency_principal, bus_principals, sink_principal
from databus.security.scram import check_name
from databus.security.signing import EventSigner, SignatureVerifier, signature_policy
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.model import SigningKey
from tests.secure_harness import PROJECT_ROOT

TOPOLOGY = load_topology(PROJECT_ROOT / "deploy" / "topology.yaml")
RULES = implied_acls(TOPOLOGY)


def _of(principal: str, operation: str, resource: str = "topic") -> set[str]:
    return {
        r.name
        for r in RULES
        if r.principal == principal and r.operation == operation and r.resource_type == resource
    }


def test_one_principal_per_agency_and_component_and_an_admin() -> None:
    found = bus_principals(TOPOLOGY)
    names = [p.name for p in found]
    assert len(names) == len(set(names))
    assert {agency_principal(a.id) for a in TOPOLOGY.agencies} <= set(names)
    assert {sink_principal(s) for s in TOPOLOGY.sectors} <= set(names)
    assert [p.kind for p in found].count("admin") == 1
    for name in names:
        assert check_name(name) == name


def test_a_ministry_writes_only_its_source_topic_and_the_heartbeats() -> None:
    for source in TOPOLOGY.sources.values():
        who = agency_principal(source.agency)
        assert _of(who, "Write") == {source.topic, "bus.heartbeats.v1"}
        assert _of(who, "Read") == set()


def test_a_sector_reads_only_its_own_topics_with_its_own_group_prefix() -> None:
    for name, sector in TOPOLOGY.sectors.items():
        who = agency_principal(sector.agency)
        reads = [r for r in RULES if r.principal == who and r.operation == "Read"]
        assert {(r.resource_type, r.pattern_type, r.name) for r in reads} == {
            ("topic", "prefixed", f"sector.{name}."),
            ("group", "prefixed", f"sector.{name}."),
        }
        expected = (
            {f"sector.{name}.verification-requests.v1"} if sector.verification.enabled else set()
        )
        assert _of(who, "Write") == expected


def test_components_get_exactly_what_they_use() -> None:
    assert _of("bus.sink.tax", "Read") == {"sector.tax.citizens.v1"}
    assert _of("bus.sink.tax", "Read", "group") == {"sink-tax"}
    assert _of("bus.sink.tax", "Write") == {"bus.dead-letter.v1"}
    assert _of("bus.population-sync", "Read") == {s.topic for s in TOPOLOGY.sources.values()}
    assert _of("bus.outbox-relay", "Write") == {"population.changes.v1", "population.citizens.v1"}
    assert "bus.admin" not in {r.principal for r in RULES}  # the super user needs no rule
    assert all(r.name == CLUSTER for r in RULES if r.resource_type == "cluster")


@given(st.from_regex(r"[a-z][a-z0-9]{0,8}\.", fullmatch=True))
def test_every_topic_and_group_rule_stays_under_the_prefix(prefix: str) -> None:
    for rule in implied_acls(TOPOLOGY, prefix):
        if rule.resource_type == "cluster" or rule.name == MONITOR_GROUP_PREFIX:
            continue
        assert rule.name.startswith(prefix), rule


def test_rules_survive_the_round_trip_through_the_admin_client_form() -> None:
    for rule in RULES:
        assert to_rule(to_binding(rule)) == rule


def test_a_client_identity_never_shows_its_password() -> None:
    security = KafkaSecurity(
        security_protocol="SASL_SSL", username="bus.verifier", password="s3cr3t"
    )
    assert "s3cr3t" not in repr(security) and "s3cr3t" not in str(security)
    config = secured({"bootstrap.servers": "x"}, security)
    assert config["sasl.username"] == "bus.verifier" and config["security.protocol"] == "sasl_ssl"
    assert secured({"bootstrap.servers": "x"}, KafkaSecurity()) == {"bootstrap.servers": "x"}


def _signer(key_id: str) -> tuple[EventSigner, str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from databus.security.signing import public_key_text

    key = Ed25519PrivateKey.generate()
    return EventSigner(key_id, key), public_key_text(key.public_key())


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=63))
def test_a_signature_covers_every_byte_of_the_value(value: bytes, flip: int) -> None:
    from databus.security.signing import load_public_key

    signer, public = _signer("a-1")
    verifier = SignatureVerifier({"a-1": ("VN/GOV/A/x", load_public_key(public))}, "required")
    headers: list[tuple[str, str | bytes | None]] = [("event_id", "e1")]
    headers += signer.headers("t", b"k", value, "e1")
    assert verifier.problem("VN/GOV/A/x", "t", b"k", value, headers) is None
    tampered = bytearray(value)
    tampered[flip % len(value)] ^= 1
    assert verifier.problem("VN/GOV/A/x", "t", b"k", bytes(tampered), headers) is not None
    assert verifier.problem("VN/GOV/B/y", "t", b"k", value, headers) is not None  # foreign
    assert verifier.problem("VN/GOV/A/x", "t2", b"k", value, headers) is not None  # other topic


def test_unsigned_events_are_refused_only_under_the_required_policy() -> None:
    required = SignatureVerifier({}, "required")
    optional = SignatureVerifier({}, "optional")
    assert required.problem("VN/GOV/A/x", "t", b"k", b"v", [("event_id", "e")]) is not None
    assert optional.problem("VN/GOV/A/x", "t", b"k", b"v", [("event_id", "e")]) is None


def test_the_topology_takes_ed25519_public_keys_only() -> None:
    SigningKey(id="k-1", public_key=base64.b64encode(bytes(32)).decode())
    with pytest.raises(ValidationError):
        SigningKey(id="k-1", public_key=base64.b64encode(bytes(31)).decode())


@pytest.mark.parametrize(
    ("environment", "sasl", "policy"),
    [
        ("local", False, "optional"),
        ("local-cluster", False, "optional"),
        ("local", True, "required"),
        ("production", False, "required"),
        ("staging", False, "required"),
    ],
)
def test_signatures_are_required_outside_the_plain_local_stacks(
    monkeypatch: pytest.MonkeyPatch, environment: str, sasl: bool, policy: str
) -> None:
    for name in ("DATABUS_SIGNATURES", "DATABUS_KAFKA_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABUS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL" if sasl else "PLAINTEXT")
    assert signature_policy(Settings(environment=environment)) == policy
