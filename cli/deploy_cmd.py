"""`databus deploy render|compose`: deployment descriptors generated from the topology
(docs/operations.md).

Exit codes: 0 success (with `--check`: every file is current), 1 files are stale (`--check`),
2 the topology is invalid or has no such environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.output import console, emit_json, fail
from databus.settings import Settings

if TYPE_CHECKING:
    from databus.topology import Topology

TOPOLOGY_EXIT = 2
ENV_ALIASES = {"prod": "production"}
"""Short names accepted by `--env` for the topology's environments."""


@click.group()
def deploy() -> None:
    """Deployment descriptors: Kubernetes (Strimzi) manifests and the compose file."""


def _report(files: dict[str, str], out: Path, check: bool, as_json: bool, how: str) -> None:
    from databus.observability.render import stale, write

    if check:
        behind = stale(files, out)
        if as_json:
            emit_json({"ok": not behind, "stale": behind, "files": sorted(files)})
        elif behind:
            console.print(f"stale: {', '.join(behind)}", markup=False, highlight=False)
        else:
            console.print(f"{len(files)} generated files are current", highlight=False)
        if behind:
            fail(f"generated deployment files under {out}/ are stale: run `{how}`")
        return
    changed = write(files, out)
    if as_json:
        emit_json({"ok": True, "written": [str(p) for p in changed], "files": sorted(files)})
    else:
        console.print(f"{len(files)} files under {out}/ ({len(changed)} changed)", highlight=False)


def _topology(settings: Settings, environment: str) -> tuple[Topology, str, str]:
    """The topology, its text and the environment's full name; exit 2 on any problem."""
    from databus.topology import TopologyError, load_topology

    environment = ENV_ALIASES.get(environment, environment)
    try:
        topology = load_topology(settings.topology)
        topology.defaults_for(environment)
    except TopologyError as error:
        for problem in error.problems:
            console.print(f"{problem}", markup=False, highlight=False)
        fail(f"{error.source or 'topology'}: {len(error.problems)} problem(s)", TOPOLOGY_EXIT)
    return topology, settings.topology.read_text(encoding="utf-8"), environment


@deploy.command()
@click.option(
    "--env",
    "environment",
    required=True,
    help="The topology's environment whose topic defaults apply (`prod`: production).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("deploy/k8s"),
    show_default=True,
    help="Where the manifests are written.",
)
@click.option(
    "--image", default="databus:0.1.0", show_default=True, help="The bus's container image."
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file is stale.")
@click.option("--json", "as_json", is_flag=True, help="Machine output.")
@click.pass_obj
def render(
    settings: Settings, environment: str, out: Path, image: str, check: bool, as_json: bool
) -> None:
    """Render the Kubernetes manifests (Strimzi Kafka, topics, users; components; Prometheus)."""
    from databus.deploy.render import kubernetes_files

    topology, text, environment = _topology(settings, environment)
    files = kubernetes_files(topology, text, environment, image)
    _report(files, out, check, as_json, f"databus deploy render --env {environment}")


@deploy.command("compose")
@click.option(
    "--env",
    "environment",
    default="production",
    show_default=True,
    help="The topology's environment whose topic defaults apply (`prod`: production).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("deploy/compose"),
    show_default=True,
    help="Where the compose file and its configuration files are written.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file is stale.")
@click.option("--json", "as_json", is_flag=True, help="Machine output.")
@click.pass_obj
def compose(settings: Settings, environment: str, out: Path, check: bool, as_json: bool) -> None:
    """Render the compose file: 3 brokers, registry, PostgreSQL, Prometheus, Grafana, components."""
    from databus.deploy.render import compose_files

    topology, _, environment = _topology(settings, environment)
    _report(compose_files(topology, environment), out, check, as_json, "databus deploy compose")
