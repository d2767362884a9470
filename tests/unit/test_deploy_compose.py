"""deploy/compose/: current with the topology, valid against the Compose specification's schema,
and everything it names exists (the Dockerfile and what it copies, mounted files, real `databus`
commands); its Prometheus configuration passes `promtool check config`. (Debian's promtool is
built without Kubernetes service discovery, so the k8s configuration cannot be checked with it.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli.main import cli
from databus.deploy.compose import GENERATED
from databus.deploy.render import compose_files
from databus.deploy.workloads import workloads
from databus.topology import Topology, load_topology
from tests.deploy_schemas import SCHEMAS, SHARED_SCHEMAS, compose_problems
from tests.unit.test_deploy_k8s import _command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
TOPOLOGY = ROOT / "deploy" / "topology.yaml"


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(TOPOLOGY)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_committed_files_are_what_the_topology_renders(topology: Topology) -> None:
    files = compose_files(topology, "production")
    assert set(files) == set(GENERATED)
    stale = [p for p, t in files.items() if (COMPOSE_DIR / p).read_text(encoding="utf-8") != t]
    assert not stale, f"stale: {stale}; run `databus deploy compose`"
    result = CliRunner().invoke(cli, ["deploy", "compose", "--check"])
    assert result.exit_code == 0, result.output


def test_the_compose_file_passes_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    assert compose_problems(compose) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "registry", "environment"), 5),
        (("services", "kafka-1", "healthcheck", "retry"), 3),
        (("services", "grafana", "ports"), "3000"),
        (("volumez",), {}),
    ],
)
def test_a_broken_compose_file_is_refused(
    compose: dict[str, Any], path: tuple[str, ...], value: object
) -> None:
    broken = yaml.safe_load(yaml.safe_dump(compose))
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert compose_problems(broken)


def test_it_runs_the_whole_bus(compose: dict[str, Any], topology: Topology) -> None:
    services = compose["services"]
    expected = {"kafka-1", "kafka-2", "kafka-3", "registry", "postgres", "prometheus", "grafana"}
    assert expected <= set(services)
    assert {w.name for w in workloads(topology)} <= set(services)
    voters = services["kafka-1"]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert voters.count("@") == 3


def test_what_it_names_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            context = (COMPOSE_DIR / service["build"]["context"]).resolve()
            assert context == ROOT
            assert (context / service["build"]["dockerfile"]).is_file()
            _command(service["command"])  # the image's entrypoint is `databus`
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"


def test_the_dockerfile_copies_what_exists_and_runs_databus() -> None:
    lines = (COMPOSE_DIR / "Dockerfile").read_text(encoding="utf-8").splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY of a missing {source}"
    assert 'ENTRYPOINT ["databus"]' in lines
    ignore = (COMPOSE_DIR / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for sources in copies:
        for source in sources:
            assert f"!{source.rstrip('/')}" in ignore.replace("/\n", "\n"), source


def _promtool_check(config: Path) -> None:
    """`promtool check config` (it also checks the rule files the configuration loads)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run deploy/local/ensure-system.sh full"
    done = subprocess.run(
        [promtool, "check", "config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_prometheus_configuration_passes_promtool(tmp_path: Path) -> None:
    compose_dir = tmp_path / "compose"
    compose_dir.mkdir()
    shutil.copy(COMPOSE_DIR / "prometheus.yml", compose_dir / "prometheus.yml")
    shutil.copytree(ROOT / "deploy" / "prometheus" / "rules", compose_dir / "rules")
    _promtool_check(compose_dir / "prometheus.yml")


def test_the_vendored_schemas_are_upstream_unchanged() -> None:
    """deploy/schemas/ is a byte-for-byte copy of the team's ../shared/schemas/ (where present)."""
    if not SHARED_SCHEMAS.is_dir():
        pytest.skip("../shared/schemas is not beside this clone")

    def files(root: Path) -> dict[Path, bytes]:
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(SCHEMAS) == files(SHARED_SCHEMAS)
