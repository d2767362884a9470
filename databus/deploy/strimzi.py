"""Strimzi custom resources (`kafka.strimzi.io/v1`): the KRaft cluster and its node pools, a
`KafkaTopic` per topic of the topology, a `KafkaUser` per principal.

Pure functions from the topology (and from principals and ACL rules) to manifests as dicts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from databus.deploy.names import CLUSTER, NAMESPACE
from databus.topology.model import Topology
from databus.topology.topics import derive_topics

API_VERSION = "kafka.strimzi.io/v1"
LISTENER = "tls"
LISTENER_PORT = 9093
BOOTSTRAP = f"{CLUSTER}-kafka-bootstrap:{LISTENER_PORT}"
CLUSTER_CA_SECRET = f"{CLUSTER}-cluster-ca-cert"
"""Strimzi's Secret with the cluster CA certificate (`ca.crt`) clients trust."""
NODES = 3

_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_RESOURCE_TYPES = {
    "topic": "topic",
    "group": "group",
    "cluster": "cluster",
    "transactional_id": "transactionalId",
}
_PATTERN_TYPES = {"literal": "literal", "prefixed": "prefix"}
_OPERATIONS = (
    "Read",
    "Write",
    "Create",
    "Delete",
    "Alter",
    "Describe",
    "ClusterAction",
    "AlterConfigs",
    "DescribeConfigs",
    "IdempotentWrite",
    "All",
)
_OPERATION_BY_KEY = {op.lower(): op for op in _OPERATIONS}


class PrincipalLike(Protocol):
    """What `kafka_users` reads of a principal (`databus.security.principals.Principal`)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...


class AclRuleLike(Protocol):
    """What `kafka_users` reads of a rule (`databus.security.acls.AclRule`)."""

    @property
    def principal(self) -> str: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def pattern_type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def permission(self) -> str: ...
    @property
    def host(self) -> str: ...


def _labelled(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"strimzi.io/cluster": CLUSTER},
        },
        "spec": spec,
    }


def kafka_cluster(
    topology: Topology, environment: str, superusers: Sequence[str]
) -> dict[str, Any]:
    """The `Kafka` resource: KRaft (node pools), a TLS + SCRAM-SHA-512 listener, simple
    authorization, replication settings from the environment's topic defaults."""
    defaults = topology.defaults_for(environment)
    rf, isr = defaults.replication_factor, defaults.min_insync_replicas
    return {
        "apiVersion": API_VERSION,
        "kind": "Kafka",
        "metadata": {"name": CLUSTER, "namespace": NAMESPACE},
        "spec": {
            "kafka": {
                "listeners": [
                    {
                        "name": LISTENER,
                        "port": LISTENER_PORT,
                        "type": "internal",
                        "tls": True,
                        "authentication": {"type": "scram-sha-512"},
                    }
                ],
                "authorization": {"type": "simple", "superUsers": list(superusers)},
                "config": {
                    "auto.create.topics.enable": False,
                    "default.replication.factor": rf,
                    "min.insync.replicas": isr,
                    "offsets.topic.replication.factor": rf,
                    "transaction.state.log.replication.factor": rf,
                    "transaction.state.log.min.isr": isr,
                },
                "metricsConfig": {
                    "type": "strimziMetricsReporter",
                    "values": {"allowList": ["kafka_server.*", "kafka_controller.*"]},
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }


def node_pools() -> list[dict[str, Any]]:
    """Three controllers and three brokers, each on its own persistent volume."""

    def pool(role: str, size: str) -> dict[str, Any]:
        return _labelled(
            "KafkaNodePool",
            f"{role}s",
            {
                "replicas": NODES,
                "roles": [role],
                "storage": {
                    "type": "jbod",
                    "volumes": [
                        {
                            "id": 0,
                            "type": "persistent-claim",
                            "size": size,
                            "deleteClaim": False,
                        }
                    ],
                },
                "resources": {
                    "requests": {"cpu": "1", "memory": "4Gi"},
                    "limits": {"memory": "4Gi"},
                },
            },
        )

    return [pool("controller", "20Gi"), pool("broker", "500Gi")]


def kafka_topics(topology: Topology, environment: str) -> list[dict[str, Any]]:
    """A `KafkaTopic` per topic the topology derives in `environment`."""
    return [
        _labelled(
            "KafkaTopic",
            spec.name,
            {
                "topicName": spec.name,
                "partitions": spec.partitions,
                "replicas": spec.replication_factor,
                "config": dict(spec.config),
            },
        )
        for spec in derive_topics(topology, environment)
    ]


def user_name(principal: str) -> str:
    """The `KafkaUser` (and SCRAM user) name of a principal; it must be a DNS-1123 name."""
    name = principal.lower().replace("/", "-").replace("_", "-")
    if not _DNS_NAME.match(name) or len(name) > 253:
        raise ValueError(f"principal {principal!r} cannot be named as a KafkaUser ({name!r})")
    return name


def _acl(rule: AclRuleLike) -> tuple[tuple[str, ...], str]:
    try:
        resource_type = _RESOURCE_TYPES[rule.resource_type]
        pattern = _PATTERN_TYPES[rule.pattern_type]
        operation = _OPERATION_BY_KEY[rule.operation.replace("_", "").lower()]
    except KeyError as missing:
        raise ValueError(
            f"ACL of principal {rule.principal!r} on {rule.resource_type} {rule.name!r}: "
            f"no Strimzi equivalent for {missing.args[0]!r}"
        ) from None
    key = (resource_type, pattern, rule.name, rule.permission.lower(), rule.host)
    return key, operation


def _acl_entry(key: tuple[str, ...], operations: set[str]) -> dict[str, Any]:
    resource_type, pattern, name, permission, host = key
    resource: dict[str, Any] = {"type": resource_type}
    if resource_type != "cluster":
        resource |= {"name": name, "patternType": pattern}
    return {
        "resource": resource,
        "type": permission,
        "host": host,
        "operations": sorted(operations, key=_OPERATIONS.index),
    }


def kafka_users(
    principals: Sequence[PrincipalLike], rules: Iterable[AclRuleLike]
) -> list[dict[str, Any]]:
    """A `KafkaUser` per principal: SCRAM-SHA-512 authentication and, except for administrators
    (super users of the cluster), simple authorization with the principal's rules, one entry
    per resource with its operations. A rule of an unknown principal is an error."""
    known = {p.name for p in principals}
    grouped: dict[str, dict[tuple[str, ...], set[str]]] = defaultdict(lambda: defaultdict(set))
    for rule in rules:
        if rule.principal not in known:
            raise ValueError(f"ACL rule for unknown principal {rule.principal!r}")
        key, operation = _acl(rule)
        grouped[rule.principal][key].add(operation)
    users = []
    for principal in principals:
        spec: dict[str, Any] = {"authentication": {"type": "scram-sha-512"}}
        if principal.kind != "admin":
            acls = [_acl_entry(k, ops) for k, ops in sorted(grouped[principal.name].items())]
            spec["authorization"] = {"type": "simple", "acls": acls}
        users.append(_labelled("KafkaUser", user_name(principal.name), spec))
    return users


def superusers(principals: Sequence[PrincipalLike]) -> list[str]:
    """The administrators' user names (`Kafka.spec.kafka.authorization.superUsers`)."""
    return [user_name(p.name) for p in principals if p.kind == "admin"]
