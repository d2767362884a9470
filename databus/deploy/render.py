"""Render `deploy/k8s/` from the topology, and tell which committed files are stale.

files = kubernetes_files(topology, topology_text, environment="production", image="databus:0.1.0")
write(files, out_dir); stale(files, out_dir)       # the same helpers as observability's
"""

from __future__ import annotations

from typing import Any

from databus.deploy import compose, strimzi
from databus.deploy import kubernetes as k8s
from databus.deploy.acl_source import bus_principals, implied_acls
from databus.deploy.workloads import workloads
from databus.observability.render import stale, to_yaml, write, yaml_documents
from databus.observability.rules import alerting_rules, recording_rules
from databus.topology.model import Topology

__all__ = ["compose_files", "kubernetes_files", "manifests", "stale", "write"]

DEFAULT_IMAGE = "databus:0.1.0"


def _header(command: str) -> str:
    return (
        f"# Generated from deploy/topology.yaml by `{command}`: do not edit.\n"
        "# docs/operations.md says what each file is and what to create first.\n"
    )


def manifests(
    topology: Topology, topology_text: str, environment: str, image: str = DEFAULT_IMAGE
) -> dict[str, list[dict[str, Any]]]:
    """Every manifest, grouped by the file (relative to `deploy/k8s/`) it is written to."""
    principals = bus_principals(topology)
    rules = implied_acls(topology)
    config = k8s.prometheus_scrape_config()
    prometheus_rules = {
        "recording.yml": to_yaml(recording_rules(topology)),
        "alerts.yml": to_yaml(alerting_rules(topology)),
    }
    files: dict[str, list[dict[str, Any]]] = {
        "00-namespace.yaml": [k8s.namespace()],
        "strimzi/kafka.yaml": [
            strimzi.kafka_cluster(topology, environment, strimzi.superusers(principals)),
            *strimzi.node_pools(),
        ],
        "strimzi/topics.yaml": strimzi.kafka_topics(topology, environment),
        "strimzi/users.yaml": strimzi.kafka_users(principals, rules),
        "topology.yaml": [k8s.topology_config_map(topology_text)],
        "registry.yaml": k8s.registry(),
        "schemas-job.yaml": [k8s.schemas_job(image, environment)],
        "prometheus.yaml": k8s.prometheus(yaml_documents(config), prometheus_rules),
    }
    for work in workloads(topology):
        files[f"components/{work.name}.yaml"] = k8s.component(work, image, environment)
    return files


def kubernetes_files(
    topology: Topology, topology_text: str, environment: str, image: str = DEFAULT_IMAGE
) -> dict[str, str]:
    """Every file of `deploy/k8s/` as text: multi-document YAML with the generated header."""
    return {
        path: _header(f"databus deploy render --env {environment}") + yaml_documents(*documents)
        for path, documents in manifests(topology, topology_text, environment, image).items()
    }


def compose_files(topology: Topology, environment: str) -> dict[str, str]:
    """Every generated file of `deploy/compose/` as text (the Dockerfile is not generated)."""
    header = _header("databus deploy compose")
    files = {
        "compose.yaml": header + yaml_documents(compose.compose_file(topology, environment)),
        "prometheus.yml": header + yaml_documents(compose.compose_prometheus(topology)),
        "grafana/datasources.yml": header + yaml_documents(compose.compose_datasources()),
        "postgres-init.sql": compose.postgres_init(topology),
    }
    return files
