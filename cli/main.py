"""Entry point of the `databus` console script."""

from __future__ import annotations

from pathlib import Path

import click

from cli.acl_cmd import acl
from cli.backfill_cmd import backfill
from cli.deploy_cmd import deploy
from cli.dlq_cmd import dlq
from cli.generate_cmd import generate
from cli.observability_cmd import observability
from cli.principals_cmd import principals
from cli.publish_cmd import publish
from cli.reconcile_cmd import reconcile
from cli.run_cmd import run
from cli.schemas_cmd import schemas
from cli.stack_cmd import stack
from cli.status_cmd import status
from cli.topics_cmd import topics
from cli.usage_cmd import usage
from cli.verify_cmd import verify
from databus.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="databus")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Project 06 population data-sharing bus."""
    ctx.obj = Settings()


cli.add_command(stack)
cli.add_command(topics)
cli.add_command(schemas)
cli.add_command(publish)
cli.add_command(dlq)
cli.add_command(generate)
cli.add_command(run)
cli.add_command(usage)
cli.add_command(backfill)
cli.add_command(reconcile)
cli.add_command(observability)
cli.add_command(deploy)
cli.add_command(verify)
cli.add_command(status)
cli.add_command(principals)
cli.add_command(acl)


@cli.command()
@click.option("--events", default=5, show_default=True, help="Heartbeats per source.")
@click.option(
    "--citizens",
    default=300,
    show_default=True,
    help="Size of the generated population the ministries publish.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="Where generated files and demo databases go.",
)
@click.pass_obj
def demo(settings: Settings, events: int, citizens: int, workdir: Path) -> None:
    """The main job on the embedded default, narrated; exit 0 only if every step held."""
    from cli.demo import run_demo

    run_demo(settings, events, citizens, workdir)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="databus")
