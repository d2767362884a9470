"""`databus observability render [--check]`: Prometheus rules and configuration and Grafana
dashboards, generated from the topology into `deploy/` (docs/observability.md).

Exit codes: 0 success (with `--check`: every file is current), 1 files are stale (`--check`),
2 the topology is invalid.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.output import console, emit_json, fail
from databus.settings import Settings

TOPOLOGY_EXIT = 2


@click.group()
def observability() -> None:
    """Generated observability files: Prometheus rules and scrape config, Grafana dashboards."""


@observability.command()
@click.option(
    "--deploy-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("deploy"),
    show_default=True,
    help="Where prometheus/ and grafana/ are written.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file is stale.")
@click.option("--json", "as_json", is_flag=True, help="Machine output.")
@click.pass_obj
def render(settings: Settings, deploy_dir: Path, check: bool, as_json: bool) -> None:
    """Render the rules, the scrape configuration and the dashboards from the topology."""
    from databus.observability.render import rendered, stale, write
    from databus.topology import TopologyError, load_topology

    try:
        topology = load_topology(settings.topology)
    except TopologyError as error:
        fail(f"{error.source or 'topology'}: {len(error.problems)} problem(s)", TOPOLOGY_EXIT)
    files = rendered(topology)
    if check:
        behind = stale(files, deploy_dir)
        if as_json:
            emit_json({"ok": not behind, "stale": behind, "files": sorted(files)})
        elif behind:
            console.print(f"stale: {', '.join(behind)}", markup=False, highlight=False)
        else:
            console.print(f"{len(files)} generated files are current", highlight=False)
        if behind:
            fail("generated observability files are stale: run `databus observability render`")
        return
    changed = write(files, deploy_dir)
    if as_json:
        emit_json({"ok": True, "written": [str(p) for p in changed], "files": sorted(files)})
    else:
        console.print(
            f"{len(files)} files under {deploy_dir}/ ({len(changed)} changed)", highlight=False
        )
