"""The compose file of the bus on one host, generated from the topology: three KRaft brokers,
Apicurio Registry and the databases on PostgreSQL, Prometheus with the generated rules, Grafana
with the generated dashboards, the one-shot `topics apply` and `schemas register`, and every
component (`deploy/compose/`, docs/operations.md).

No password is written: the file interpolates `POSTGRES_PASSWORD` and `GRAFANA_ADMIN_PASSWORD`
from the operator's environment (compose refuses to start without them).
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

from databus.deploy.workloads import MONITOR, Workload, workloads
from databus.observability.dashboards import DASHBOARD_DIR, provisioning
from databus.observability.scrape import prometheus_config
from databus.topology.model import Topology

BROKERS = 3
KAFKA_IMAGE = "apache/kafka:4.1.1"
REGISTRY_IMAGE = "apicurio/apicurio-registry:3.0.9"
POSTGRES_IMAGE = "postgres:17"
PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0"
GRAFANA_IMAGE = "grafana/grafana:11.6.0"
BUS_IMAGE = "databus:0.1.0"
PASSWORD = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (the PostgreSQL password)}"
GRAFANA_PASSWORD = "${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD}"
REGISTRY_DATABASE = "registry"
NPD_DATABASE = "npd"

GENERATED = ("compose.yaml", "prometheus.yml", "grafana/datasources.yml", "postgres-init.sql")
"""Files `databus deploy compose` writes (the Dockerfile beside them is written by hand)."""


def cluster_id(name: str = "databus-compose") -> str:
    """A fixed KRaft cluster id (16 bytes, base64url without padding), derived from `name`."""
    return base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_DNS, name).bytes).decode()[:22]


def sector_database(sector: str) -> str:
    """The PostgreSQL database of a sector, e.g. `sector_social_insurance`."""
    return "sector_" + sector.replace("-", "_")


def _database_url(database: str) -> str:
    return f"postgresql+psycopg://databus:{PASSWORD}@postgres:5432/{database}"


def _broker(node: int, replication: int, min_isr: int) -> dict[str, Any]:
    voters = ",".join(f"{n}@kafka-{n}:9093" for n in range(1, BROKERS + 1))
    return {
        "image": KAFKA_IMAGE,
        "environment": {
            "CLUSTER_ID": cluster_id(),
            "KAFKA_NODE_ID": str(node),
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://kafka-{node}:9092",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": voters,
            "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
            "KAFKA_DEFAULT_REPLICATION_FACTOR": str(replication),
            "KAFKA_MIN_INSYNC_REPLICAS": str(min_isr),
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": str(replication),
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": str(replication),
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": str(min_isr),
        },
        "volumes": [f"kafka-{node}:/var/lib/kafka/data"],
        "healthcheck": {
            "test": [
                "CMD-SHELL",
                "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server "
                "localhost:9092 > /dev/null",
            ],
            "interval": "10s",
            "timeout": "10s",
            "retries": 12,
        },
        "restart": "unless-stopped",
    }


def _bus_environment(environment: str) -> dict[str, str]:
    bootstrap = ",".join(f"kafka-{n}:9092" for n in range(1, BROKERS + 1))
    return {
        "DATABUS_BOOTSTRAP_SERVERS": bootstrap,
        "DATABUS_REGISTRY_URL": "http://registry:8080/apis/ccompat/v7",
        "DATABUS_ENVIRONMENT": environment,
        "DATABUS_METRICS_HOST": "0.0.0.0",
    }


def _bus_service(args: list[str], env: dict[str, str], depends: dict[str, Any]) -> dict[str, Any]:
    return {
        "image": BUS_IMAGE,
        "build": {"context": "../..", "dockerfile": "deploy/compose/Dockerfile"},
        "command": args,
        "environment": env,
        "depends_on": depends,
    }


def _component(work: Workload, topology: Topology, base_env: dict[str, str]) -> dict[str, Any]:
    env = dict(base_env)
    npd = topology.population.database_url_env
    if work.database_env == npd:
        env[npd] = _database_url(NPD_DATABASE)
    elif work.database_env is not None:
        env[work.database_env] = _database_url(sector_database(work.name.removeprefix("sink-")))
    if work.name == MONITOR:
        env["DATABUS_MONITOR_HOST"] = "0.0.0.0"
        sinks = [w for w in workloads(topology) if w.name.startswith("sink-")]
        env["DATABUS_MONITOR_COMPONENT_METRICS_URLS"] = json.dumps(
            [f"http://{w.name}:{w.port}/metrics" for w in sinks]
        )
    depends = {
        "topics": {"condition": "service_completed_successfully"},
        "schemas": {"condition": "service_completed_successfully"},
    }
    if work.database_env is not None:
        depends["postgres"] = {"condition": "service_healthy"}
    service = _bus_service(list(work.args), env, depends)
    url = f"http://127.0.0.1:{work.port}/readyz"
    probe = f"import urllib.request; urllib.request.urlopen('{url}', timeout=3)"
    service["healthcheck"] = {
        "test": ["CMD", "python", "-c", probe],
        "interval": "10s",
        "timeout": "5s",
        "retries": 6,
        "start_period": "30s",
    }
    service["restart"] = "unless-stopped"
    if work.name == MONITOR:
        service["ports"] = [f"127.0.0.1:{work.port}:{work.port}"]
    return service


def compose_file(topology: Topology, environment: str) -> dict[str, Any]:
    """The compose file as a dict."""
    defaults = topology.defaults_for(environment)
    rf, isr = min(defaults.replication_factor, BROKERS), defaults.min_insync_replicas
    brokers = {f"kafka-{n}": _broker(n, rf, isr) for n in range(1, BROKERS + 1)}
    healthy_brokers = {name: {"condition": "service_healthy"} for name in brokers}
    base_env = _bus_environment(environment)
    services: dict[str, Any] = dict(brokers)
    services["postgres"] = {
        "image": POSTGRES_IMAGE,
        "environment": {"POSTGRES_USER": "databus", "POSTGRES_PASSWORD": PASSWORD},
        "volumes": [
            "postgres:/var/lib/postgresql/data",
            "./postgres-init.sql:/docker-entrypoint-initdb.d/databus.sql:ro",
        ],
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-U", "databus"],
            "interval": "5s",
            "retries": 12,
        },
        "restart": "unless-stopped",
    }
    services["registry"] = {
        "image": REGISTRY_IMAGE,
        "environment": {
            "APICURIO_STORAGE_KIND": "sql",
            "APICURIO_STORAGE_SQL_KIND": "postgresql",
            "APICURIO_DATASOURCE_URL": f"jdbc:postgresql://postgres:5432/{REGISTRY_DATABASE}",
            "APICURIO_DATASOURCE_USERNAME": "databus",
            "APICURIO_DATASOURCE_PASSWORD": PASSWORD,
        },
        "depends_on": {"postgres": {"condition": "service_healthy"}},
        "ports": ["127.0.0.1:8080:8080"],
        "restart": "unless-stopped",
    }
    services["topics"] = _bus_service(["topics", "apply"], base_env, healthy_brokers)
    services["schemas"] = _bus_service(
        ["schemas", "register"], base_env, {"registry": {"condition": "service_started"}}
    )
    services["schemas"]["restart"] = "on-failure"  # until the registry answers
    for work in workloads(topology):
        services[work.name] = _component(work, topology, base_env)
    services["prometheus"] = {
        "image": PROMETHEUS_IMAGE,
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
        ],
        "volumes": [
            "./prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "../prometheus/rules:/etc/prometheus/rules:ro",
            "prometheus:/prometheus",
        ],
        "ports": ["127.0.0.1:9090:9090"],
        "restart": "unless-stopped",
    }
    services["grafana"] = {
        "image": GRAFANA_IMAGE,
        "environment": {"GF_SECURITY_ADMIN_PASSWORD": GRAFANA_PASSWORD},
        "volumes": [
            "./grafana/datasources.yml:/etc/grafana/provisioning/datasources/databus.yml:ro",
            "../grafana/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro",
            f"../grafana/dashboards:{DASHBOARD_DIR}:ro",
        ],
        "depends_on": {"prometheus": {"condition": "service_started"}},
        "ports": ["127.0.0.1:3000:3000"],
        "restart": "unless-stopped",
    }
    volumes = [*(f"kafka-{n}" for n in range(1, BROKERS + 1)), "postgres", "prometheus"]
    return {"name": "databus", "services": services, "volumes": {v: {} for v in volumes}}


def compose_prometheus(topology: Topology) -> dict[str, Any]:
    """Prometheus' configuration on the compose network (every component by service name)."""
    return prometheus_config([(w.name, f"{w.name}:{w.port}") for w in workloads(topology)])


def compose_datasources() -> dict[str, Any]:
    """Grafana's datasource file, pointing at the compose network's Prometheus."""
    data = copy.deepcopy(provisioning()["datasources/databus.yml"])
    for source in data["datasources"]:
        source["url"] = "http://prometheus:9090"
    return data


def postgres_init(topology: Topology) -> str:
    """SQL run once by PostgreSQL's entrypoint: the registry's, the NPD's and each sector's
    database."""
    names = [REGISTRY_DATABASE, NPD_DATABASE, *(sector_database(s) for s in topology.sectors)]
    lines = [f"CREATE DATABASE {name} OWNER databus;" for name in names]
    return "-- Generated from deploy/topology.yaml by `databus deploy compose`: do not edit.\n" + (
        "\n".join(lines) + "\n"
    )
