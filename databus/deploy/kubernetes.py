"""Kubernetes' own kinds for the bus: a Deployment (with liveness and readiness probes on
`/healthz` and `/readyz`) and a Service per component, the registry, the topology ConfigMap, the
schema registration Job, and Prometheus with its scrape configuration and the generated rules.

Secrets are only referenced, never written: `databus-database-urls` (one key per database URL
variable of the topology), `databus-registry-db` (`url`, `username`, `password` of the
registry's PostgreSQL) and those Strimzi makes (a KafkaUser's password, the cluster CA).
"""

from __future__ import annotations

from typing import Any

from databus.deploy.names import CLUSTER, NAMESPACE
from databus.deploy.strimzi import BOOTSTRAP, CLUSTER_CA_SECRET, user_name
from databus.deploy.workloads import MONITOR, Workload

PART_OF = "databus"
DATABASE_URLS_SECRET = "databus-database-urls"
REGISTRY_DB_SECRET = "databus-registry-db"
REGISTRY = "registry"
REGISTRY_IMAGE = "apicurio/apicurio-registry:3.0.9"
REGISTRY_PORT = 8080
REGISTRY_URL = f"http://{REGISTRY}:{REGISTRY_PORT}/apis/ccompat/v7"
PROMETHEUS = "prometheus"
PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0"
PROMETHEUS_PORT = 9090
TOPOLOGY_CONFIG = "databus-topology"
TOPOLOGY_PATH = "/etc/databus/topology.yaml"
KAFKA_CA_DIR = "/etc/databus/kafka-ca"
WORK_DIR = "/var/lib/databus"
USER_ID = 10001

CLIENT_ENV = {
    "protocol": "DATABUS_KAFKA_SECURITY_PROTOCOL",
    "username": "DATABUS_KAFKA_USERNAME",
    "password": "DATABUS_KAFKA_PASSWORD",
    "ca": "DATABUS_KAFKA_CA_FILE",
}
"""How a component is given its Kafka identity: the variables `databus.security.client` reads."""


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def _selector(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


def _meta(name: str, component: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if component is not None:
        meta["labels"] = _labels(component)
    return meta


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _http_probe(path: str, period: int, failures: int, delay: int = 0) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": "metrics"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


_SECURE_CONTAINER = {
    "runAsNonRoot": True,
    "runAsUser": USER_ID,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def namespace() -> dict[str, Any]:
    """The namespace everything of the bus lives in."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}


def topology_config_map(topology_text: str) -> dict[str, Any]:
    """The topology file, mounted read-only into every component."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(TOPOLOGY_CONFIG, "topology"),
        "data": {"topology.yaml": topology_text},
    }


def _bus_env(environment: str, kafka_user: str | None) -> list[dict[str, Any]]:
    """Endpoints, topology and, for a Kafka client, its user and the Secret with its password
    (Strimzi's User Operator writes one per KafkaUser, under the user's name)."""
    env: list[dict[str, Any]] = [
        {"name": "DATABUS_BOOTSTRAP_SERVERS", "value": BOOTSTRAP},
        {"name": "DATABUS_REGISTRY_URL", "value": REGISTRY_URL},
        {"name": "DATABUS_TOPOLOGY", "value": TOPOLOGY_PATH},
        {"name": "DATABUS_ENVIRONMENT", "value": environment},
    ]
    if kafka_user is not None:
        env += [
            {"name": "DATABUS_METRICS_HOST", "value": "0.0.0.0"},
            {"name": CLIENT_ENV["protocol"], "value": "SASL_SSL"},
            {"name": CLIENT_ENV["username"], "value": kafka_user},
            _secret_env(CLIENT_ENV["password"], kafka_user, "password"),
            {"name": CLIENT_ENV["ca"], "value": f"{KAFKA_CA_DIR}/ca.crt"},
        ]
    return env


def _bus_volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [
        {"name": "topology", "configMap": {"name": TOPOLOGY_CONFIG}},
        {"name": "kafka-ca", "secret": {"secretName": CLUSTER_CA_SECRET}},
        {"name": "work", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {
            "name": "topology",
            "mountPath": TOPOLOGY_PATH,
            "subPath": "topology.yaml",
            "readOnly": True,
        },
        {"name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": True},
        {"name": "work", "mountPath": WORK_DIR},
    ]
    return volumes, mounts


def _pod_spec(containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "securityContext": {"runAsNonRoot": True, "fsGroup": USER_ID},
        "terminationGracePeriodSeconds": 60,
        "containers": containers,
        "volumes": volumes,
    }


def _deployment(
    name: str, replicas: int, pod: dict[str, Any], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    template_meta: dict[str, Any] = {"labels": _labels(name)}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _selector(name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {"metadata": template_meta, "spec": pod},
        },
    }


def _service(name: str, port: int, port_name: str = "metrics") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, name),
        "spec": {
            "selector": _selector(name),
            "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
        },
    }


def component(work: Workload, image: str, environment: str) -> list[dict[str, Any]]:
    """A component's Deployment and Service. Liveness: `/healthz` (the process serves);
    readiness: `/readyz` (partitions assigned, database answering; see docs/observability.md)."""
    volumes, mounts = _bus_volumes()
    env = _bus_env(environment, user_name(work.principal))
    if work.name == MONITOR:
        env.append({"name": "DATABUS_MONITOR_HOST", "value": "0.0.0.0"})
    if work.database_env is not None:
        env.append(_secret_env(work.database_env, DATABASE_URLS_SECRET, work.database_env))
    container = {
        "name": work.name,
        "image": image,
        "command": ["databus"],
        "args": list(work.args),
        "workingDir": WORK_DIR,
        "env": env,
        "ports": [{"name": "metrics", "containerPort": work.port}],
        "livenessProbe": _http_probe("/healthz", 10, 3, delay=10),
        "readinessProbe": _http_probe("/readyz", 5, 3),
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "1Gi"},
        },
        "volumeMounts": mounts,
        "securityContext": _SECURE_CONTAINER,
    }
    return [
        _deployment(work.name, work.replicas, _pod_spec([container], volumes)),
        _service(work.name, work.port),
    ]


def schemas_job(image: str, environment: str) -> dict[str, Any]:
    """A Job that registers the Avro contracts (`databus schemas register`), run at each release."""
    volumes, mounts = _bus_volumes()
    container = {
        "name": "schemas-register",
        "image": image,
        "command": ["databus"],
        "args": ["schemas", "register"],
        "workingDir": WORK_DIR,
        "env": _bus_env(environment, None),
        "volumeMounts": mounts,
        "securityContext": _SECURE_CONTAINER,
    }
    pod = _pod_spec([container], volumes) | {"restartPolicy": "OnFailure"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta("schemas-register", "schemas-register"),
        "spec": {
            "backoffLimit": 6,
            "template": {"metadata": {"labels": _labels("schemas-register")}, "spec": pod},
        },
    }


def registry() -> list[dict[str, Any]]:
    """Apicurio Registry on PostgreSQL (its SQL storage): schemas survive restarts."""
    container = {
        "name": REGISTRY,
        "image": REGISTRY_IMAGE,
        "env": [
            {"name": "APICURIO_STORAGE_KIND", "value": "sql"},
            {"name": "APICURIO_STORAGE_SQL_KIND", "value": "postgresql"},
            _secret_env("APICURIO_DATASOURCE_URL", REGISTRY_DB_SECRET, "url"),
            _secret_env("APICURIO_DATASOURCE_USERNAME", REGISTRY_DB_SECRET, "username"),
            _secret_env("APICURIO_DATASOURCE_PASSWORD", REGISTRY_DB_SECRET, "password"),
        ],
        "ports": [{"name": "http", "containerPort": REGISTRY_PORT}],
        "livenessProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "initialDelaySeconds": 20,
            "periodSeconds": 10,
        },
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": "http"},
            "periodSeconds": 5,
        },
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    }
    pod = {"containers": [container]}
    return [_deployment(REGISTRY, 2, pod), _service(REGISTRY, REGISTRY_PORT, "http")]


def prometheus_scrape_config() -> dict[str, Any]:
    """Prometheus' configuration in the cluster: every endpoint of the components' Services
    (job `databus`, labelled `component` as the generated rules expect), and the brokers' metrics
    reporter (job `kafka`)."""
    meta = "__meta_kubernetes_"
    return {
        "global": {"scrape_interval": "15s", "evaluation_interval": "30s"},
        "rule_files": ["/etc/prometheus/rules/*.yml"],
        "scrape_configs": [
            {
                "job_name": "databus",
                "kubernetes_sd_configs": [
                    {"role": "endpoints", "namespaces": {"names": [NAMESPACE]}}
                ],
                "relabel_configs": [
                    {
                        "source_labels": [
                            f"{meta}service_label_app_kubernetes_io_part_of",
                            f"{meta}endpoint_port_name",
                        ],
                        "regex": f"{PART_OF};metrics",
                        "action": "keep",
                    },
                    {
                        "source_labels": [f"{meta}service_label_app_kubernetes_io_component"],
                        "target_label": "component",
                    },
                    {"source_labels": [f"{meta}pod_name"], "target_label": "pod"},
                ],
            },
            {
                "job_name": "kafka",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [NAMESPACE]}}],
                "relabel_configs": [
                    {
                        "source_labels": [
                            f"{meta}pod_label_strimzi_io_cluster",
                            f"{meta}pod_container_port_name",
                        ],
                        "regex": f"{CLUSTER};tcp-prometheus",
                        "action": "keep",
                    },
                    {"source_labels": [f"{meta}pod_name"], "target_label": "pod"},
                ],
            },
        ],
    }


def prometheus(config_text: str, rules: dict[str, str]) -> list[dict[str, Any]]:
    """Prometheus: its configuration and rules (ConfigMaps), the right to discover the
    namespace's endpoints and pods, a Deployment and a Service."""
    sd_rules = [
        {
            "apiGroups": [""],
            "resources": ["pods", "services", "endpoints"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": ["discovery.k8s.io"],
            "resources": ["endpointslices"],
            "verbs": ["get", "list", "watch"],
        },
    ]
    container = {
        "name": PROMETHEUS,
        "image": PROMETHEUS_IMAGE,
        "args": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=15d",
        ],
        "ports": [{"name": "http", "containerPort": PROMETHEUS_PORT}],
        "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": "http"}, "periodSeconds": 5},
        "volumeMounts": [
            {
                "name": "config",
                "mountPath": "/etc/prometheus/prometheus.yml",
                "subPath": "prometheus.yml",
            },
            {"name": "rules", "mountPath": "/etc/prometheus/rules"},
            {"name": "data", "mountPath": "/prometheus"},
        ],
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
    }
    pod = {
        "serviceAccountName": PROMETHEUS,
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": "prometheus-config"}},
            {"name": "rules", "configMap": {"name": "prometheus-rules"}},
            {"name": "data", "emptyDir": {}},
        ],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("prometheus-config", PROMETHEUS),
            "data": {"prometheus.yml": config_text},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("prometheus-rules", PROMETHEUS),
            "data": dict(rules),
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(PROMETHEUS, PROMETHEUS)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(PROMETHEUS, PROMETHEUS),
            "rules": sd_rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(PROMETHEUS, PROMETHEUS),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": PROMETHEUS,
            },
            "subjects": [{"kind": "ServiceAccount", "name": PROMETHEUS, "namespace": NAMESPACE}],
        },
        _deployment(PROMETHEUS, 1, pod),
        _service(PROMETHEUS, PROMETHEUS_PORT, "http"),
    ]
