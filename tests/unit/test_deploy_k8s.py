"""`databus deploy render`: deploy/k8s/ is current, every manifest passes the real schemas
(Kubernetes' own through kubernetes-validate, Strimzi's CRDs), broken ones do not, probes and
commands point at what the components really serve and run."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cli.main import cli
from databus.deploy.render import kubernetes_files, manifests
from databus.deploy.strimzi import AclRuleLike, kafka_users, superusers
from databus.deploy.workloads import workloads
from databus.security.acls import implied_acls
from databus.security.principals import Principal, bus_principals
from databus.topology import Topology, derive_topics, load_topology
from tests.deploy_schemas import manifest_problems

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "deploy" / "topology.yaml"
K8S = ROOT / "deploy" / "k8s"
ENV = "production"
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(TOPOLOGY)


@pytest.fixture(scope="module")
def docs(topology: Topology) -> list[Doc]:
    text = TOPOLOGY.read_text(encoding="utf-8")
    return [d for group in manifests(topology, text, ENV).values() for d in group]


def _find(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    return next(d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"]))


def test_committed_manifests_are_what_the_topology_renders(topology: Topology) -> None:
    files = kubernetes_files(topology, TOPOLOGY.read_text(encoding="utf-8"), ENV)
    committed = {str(p.relative_to(K8S)) for p in K8S.rglob("*") if p.is_file()}
    assert committed == set(files), "deploy/k8s has files the render does not write, or lacks some"
    stale = [p for p, text in files.items() if (K8S / p).read_text(encoding="utf-8") != text]
    assert not stale, f"stale: {stale}; run `databus deploy render --env prod`"


def test_every_manifest_passes_the_real_schemas(docs: list[Doc]) -> None:
    kinds = {d["kind"] for d in docs}
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Deployment", "Service"} <= kinds
    problems = [p for d in docs for p in manifest_problems(d)]
    assert not problems, "\n".join(problems)


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


BROKEN = [
    ("Deployment", _set("spec.replicas", "two"), "spec.replicas"),
    ("Deployment", _set("spec.template.spec.containers.0.livenessProbes", {}), "livenessProbes"),
    ("Service", _set("spec.ports.0.port", "metrics"), "spec.ports.0.port"),
    ("KafkaTopic", _set("spec.partitions", "twelve"), "spec.partitions"),
    ("KafkaTopic", _set("spec.partition", 12), "spec.partition: unknown field"),
    ("KafkaUser", _set("spec.authorization.acls.0.operations", ["Eat"]), "operations"),
    ("KafkaUser", _set("spec.authentication.type", "plain"), "authentication.type"),
    ("Kafka", _set("spec.kafka.listeners.0.name", "TLS_LISTENER"), "listeners.0.name"),
    ("KafkaNodePool", _set("spec.roles", ["zookeeper"]), "spec.roles.0"),
    ("KafkaTopic", _set("metadata.name", "Sector_Tax"), "metadata.name"),
    ("KafkaTopic", _set("metadata.labelz", {}), "metadata"),
]


@pytest.mark.parametrize(("kind", "mutate", "where"), BROKEN)
def test_a_broken_manifest_is_refused(
    docs: list[Doc], kind: str, mutate: Callable[[Doc], None], where: str
) -> None:
    doc = copy.deepcopy(_find(docs, kind))
    assert manifest_problems(doc) == []
    mutate(doc)
    problems = manifest_problems(doc)
    assert problems, f"a broken {kind} passed"
    assert any(where in p for p in problems), problems


def test_an_unknown_kind_is_not_waved_through() -> None:
    doc = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaBridge", "metadata": {"name": "b"}}
    assert manifest_problems(doc)
    doc = {"apiVersion": "apps/v1", "kind": "Deploymant", "metadata": {"name": "d"}}
    assert manifest_problems(doc)


def _command(args: list[str]) -> click.Command:
    """Resolve `databus ARGS` to its command and parse its options and arguments (nothing
    runs); a usage error (unknown command or option, missing argument) raises."""
    command: click.Command = cli
    parent = click.Context(cli, info_name="databus")
    rest = list(args)
    while isinstance(command, click.Group):
        name = rest.pop(0)
        sub = command.get_command(parent, name)
        assert sub is not None, f"no command {name!r} in {args}"
        command = sub
        if isinstance(sub, click.Group):
            parent = click.Context(sub, info_name=name, parent=parent)
    command.make_context(command.name or "", rest, parent=parent)
    return command


def test_every_deployment_runs_a_real_command_and_probes_its_port(docs: list[Doc]) -> None:
    deployments = [
        d
        for d in docs
        if d["kind"] == "Deployment"
        and d["spec"]["template"]["spec"]["containers"][0].get("command") == ["databus"]
    ]
    assert len(deployments) == len(workloads(load_topology(TOPOLOGY)))
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        _command(args)
        flag = "--port" if args[:2] == ["run", "monitor"] else "--metrics-port"
        port = int(args[args.index(flag) + 1])
        assert container["ports"] == [{"name": "metrics", "containerPort": port}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        names = {e["name"] for e in container["env"]}
        assert {"DATABUS_METRICS_HOST", "DATABUS_TOPOLOGY", "DATABUS_ENVIRONMENT"} <= names
    job = _find(docs, "Job")["spec"]["template"]["spec"]["containers"][0]
    _command(job["args"])


def test_secrets_are_referenced_never_written(docs: list[Doc]) -> None:
    assert not [d for d in docs if d["kind"] == "Secret"]
    text = "\n".join((K8S / p).read_text(encoding="utf-8") for p in K8S.rglob("*.yaml"))
    for word in ("password:", "PASSWORD=", "BEGIN PRIVATE KEY"):
        assert word not in text


def test_one_kafka_topic_per_topic_of_the_environment(docs: list[Doc], topology: Topology) -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in docs if d["kind"] == "KafkaTopic"}
    specs = derive_topics(topology, ENV)
    assert set(topics) == {s.name for s in specs}
    for spec in specs:
        assert topics[spec.name]["partitions"] == spec.partitions
        assert topics[spec.name]["replicas"] == 3
        assert topics[spec.name]["config"]["min.insync.replicas"] == "2"
    kafka = _find(docs, "Kafka")["spec"]["kafka"]
    assert kafka["config"]["min.insync.replicas"] == 2
    assert [p["spec"]["replicas"] for p in docs if p["kind"] == "KafkaNodePool"] == [3, 3]


def test_kafka_users_follow_the_principals_and_their_rules(
    docs: list[Doc], topology: Topology
) -> None:
    principals = bus_principals(topology)
    users = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "KafkaUser"}
    assert len(users) == len(principals)
    tax = users["bus.sink.tax"]["authorization"]["acls"]
    assert {
        "resource": {"type": "topic", "name": "sector.tax.citizens.v1", "patternType": "literal"},
        "type": "allow",
        "host": "*",
        "operations": ["Read", "Describe"],
    } in tax
    assert "authorization" not in users["bus.admin"]
    assert _find(docs, "Kafka")["spec"]["kafka"]["authorization"]["superUsers"] == superusers(
        principals
    )
    assert len(implied_acls(topology)) > len(principals)


@dataclass(frozen=True)
class _OtherRule:
    """Another class with the agreed fields (as issue 14's AclRule will be)."""

    principal: str
    resource_type: str
    pattern_type: str
    name: str
    operation: str
    permission: str = "allow"
    host: str = "*"


def test_kafka_users_map_every_rule_shape() -> None:
    principals = [Principal("vn-gov-btc-thue", "agency"), Principal("ops", "admin")]
    rules: list[AclRuleLike] = [
        _OtherRule("vn-gov-btc-thue", "transactional_id", "prefixed", "tax-", "WRITE"),
        _OtherRule("vn-gov-btc-thue", "transactional_id", "prefixed", "tax-", "describe"),
        _OtherRule("vn-gov-btc-thue", "cluster", "literal", "kafka-cluster", "IDEMPOTENT_WRITE"),
        _OtherRule("vn-gov-btc-thue", "group", "prefixed", "tax-", "READ", "deny", "10.0.0.1"),
    ]
    users = kafka_users(principals, rules)
    acls = users[0]["spec"]["authorization"]["acls"]
    assert {
        "resource": {"type": "transactionalId", "name": "tax-", "patternType": "prefix"},
        "type": "allow",
        "host": "*",
        "operations": ["Write", "Describe"],
    } in acls
    assert {
        "resource": {"type": "cluster"},
        "type": "allow",
        "host": "*",
        "operations": ["IdempotentWrite"],
    } in acls
    assert any(a["type"] == "deny" and a["host"] == "10.0.0.1" for a in acls)
    assert users[1]["spec"] == {"authentication": {"type": "scram-sha-512"}}
    problems = [p for u in users for p in manifest_problems(u)]
    assert not problems, problems
    with pytest.raises(ValueError, match="unknown principal 'nobody'"):
        kafka_users(principals, [_OtherRule("nobody", "topic", "literal", "t", "READ")])
    with pytest.raises(ValueError, match="no Strimzi equivalent for 'fly'"):
        kafka_users(principals, [_OtherRule("ops", "topic", "literal", "t", "fly")])


def test_cli_render_and_check(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["deploy", "render", "--env", "prod", "--check"])
    assert ok.exit_code == 0, ok.output
    stale = runner.invoke(
        cli, ["deploy", "render", "--env", "prod", "--out", str(tmp_path), "--check"]
    )
    assert stale.exit_code == 1
    wrote = runner.invoke(cli, ["deploy", "render", "--env", "prod", "--out", str(tmp_path)])
    assert wrote.exit_code == 0, wrote.output
    assert (tmp_path / "strimzi" / "topics.yaml").exists()
    unknown = runner.invoke(cli, ["deploy", "render", "--env", "staging", "--out", str(tmp_path)])
    assert unknown.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [["run", "sink", "tax", "--metrics-portz", "1"], ["run", "sinks", "tax"], ["run", "sink"]],
)
def test_the_command_check_refuses_a_wrong_command(args: list[str]) -> None:
    with pytest.raises((click.UsageError, AssertionError)):
        _command(args)
