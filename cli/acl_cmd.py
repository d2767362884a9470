"""`databus acl plan|apply`: the broker's ACLs made what the topology implies.

`plan` exits 0 when nothing differs and 3 when `apply` would change something.
"""

from __future__ import annotations

import click

from cli.output import console, emit_json
from databus.settings import Settings

CHANGES_PENDING = 3


def _plan(settings: Settings):  # type: ignore[no-untyped-def]
    from databus.security.acl_admin import AclAdmin
    from databus.security.acls import implied_acls
    from databus.security.principals import bus_principals
    from databus.topology import load_topology

    topology = load_topology(settings.topology)
    admin = AclAdmin(settings.endpoints.bootstrap_servers)
    names = {p.name for p in bus_principals(topology)}
    plan = admin.plan(implied_acls(topology, settings.topic_prefix), names, settings.topic_prefix)
    return admin, plan


def _show(plan, as_json: bool, applied: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        emit_json({"ok": True, "applied": applied, **plan.as_dict()})
        return
    for rule in plan.create:
        console.print(f"[green]+[/] {rule}", highlight=False)
    for rule in plan.delete:
        console.print(f"[red]-[/] {rule}", highlight=False)
    verb = "applied" if applied else "to apply"
    console.print(
        f"{len(plan.create)} to create, {len(plan.delete)} to delete, {plan.kept} kept ({verb})"
        if not plan.empty
        else f"ACLs match the topology ({plan.kept} rules)"
    )


@click.group()
def acl() -> None:
    """Kafka ACLs derived from the topology."""


@acl.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def plan(settings: Settings, as_json: bool) -> None:
    """Show what `acl apply` would create and delete; exit 3 if anything."""
    _, the_plan = _plan(settings)
    _show(the_plan, as_json, applied=False)
    if not the_plan.empty:
        raise SystemExit(CHANGES_PENDING)


@acl.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def apply(settings: Settings, as_json: bool) -> None:
    """Create the implied ACLs and delete the bus principals' ACLs no longer implied."""
    admin, the_plan = _plan(settings)
    admin.apply(the_plan)
    _show(the_plan, as_json, applied=True)
