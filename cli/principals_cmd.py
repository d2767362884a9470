"""`databus principals list|apply`: the topology's principals and their SCRAM credentials.

Passwords come from a secrets file (YAML `principal: password`, mode 0600) or from
`DATABUS_PASSWORD_<PRINCIPAL>` variables, never from the topology; none is ever printed.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.output import console, emit_json, fail
from databus.settings import Settings


@click.group()
def principals() -> None:
    """Kafka principals of the agencies and the bus components."""


@principals.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(settings: Settings, as_json: bool) -> None:
    """Every principal the topology implies."""
    from databus.security.principals import bus_principals
    from databus.topology import load_topology

    found = bus_principals(load_topology(settings.topology))
    if as_json:
        emit_json([{"name": p.name, "kind": p.kind, "agency": p.agency} for p in found])
        return
    for p in found:
        console.print(f"{p.kind:9} {p.name}" + (f"  ({p.agency})" if p.agency else ""))


@principals.command()
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML file of `principal: password` (mode 0600).",
)
@click.option(
    "--generate",
    is_flag=True,
    help="Give principals missing from --secrets a random password and write it back (local).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def apply(settings: Settings, secrets_file: Path | None, generate: bool, as_json: bool) -> None:
    """Create or rotate every principal's SCRAM-SHA-512 credential (the admin's excepted)."""
    from databus.security.credentials import (
        SecretsError,
        passwords_for,
        read_secrets,
        upsert_scram,
        with_generated,
        write_secrets,
    )
    from databus.security.principals import bus_principals
    from databus.topology import load_topology

    wanted = [p for p in bus_principals(load_topology(settings.topology)) if p.kind != "admin"]
    try:
        secrets = read_secrets(secrets_file) if secrets_file and secrets_file.exists() else {}
        if generate:
            if secrets_file is None:
                fail("--generate needs --secrets FILE to keep the passwords in")
            secrets = with_generated(wanted, secrets)
            write_secrets(secrets_file, secrets)
        done = upsert_scram(settings.endpoints.bootstrap_servers, passwords_for(wanted, secrets))
    except SecretsError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"ok": True, "upserted": done})
    else:
        console.print(f"{len(done)} principal(s) created or rotated: {', '.join(done)}")
