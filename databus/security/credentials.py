"""SCRAM credentials of the bus principals: read from a secrets file or the environment (never
from the topology) and upserted through the Admin API. Passwords are never printed."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

import yaml
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from databus.security.client import KafkaSecurity, secured
from databus.security.principals import Principal
from databus.security.scram import ITERATIONS, new_password
from databus.security.tls import write_private

TIMEOUT = 30.0


class SecretsError(ValueError):
    """A secrets file or variable is missing or unsafe; the message names no secret."""


def env_variable(principal: str) -> str:
    """The variable of a principal's password: `bus.sink.tax` -> `DATABUS_PASSWORD_BUS_SINK_TAX`."""
    return "DATABUS_PASSWORD_" + re.sub(r"[^A-Za-z0-9]", "_", principal).upper()


def read_secrets(path: Path) -> dict[str, str]:
    """`{principal: password}` from a YAML mapping in a file only its owner may read."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(f"{path}: secrets file is readable by others (chmod 600 it)")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise SecretsError(f"{path}: expected a mapping of principal name to password")
    return data


def write_secrets(path: Path, secrets: Mapping[str, str]) -> None:
    """Write `secrets` as YAML, mode 0600."""
    write_private(path, yaml.safe_dump(dict(sorted(secrets.items()))).encode())


def passwords_for(
    principals: list[Principal],
    secrets: Mapping[str, str],
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Each principal's password: its `DATABUS_PASSWORD_*` variable first, then `secrets`."""
    env = os.environ if env is None else env
    out, missing = {}, []
    for principal in principals:
        value = env.get(env_variable(principal.name)) or secrets.get(principal.name)
        if value:
            out[principal.name] = value
        else:
            missing.append(principal.name)
    if missing:
        raise SecretsError(
            "no password for principal(s) "
            + ", ".join(missing)
            + " (secrets file or "
            + ", ".join(env_variable(m) for m in missing[:2])
            + (", ..." if len(missing) > 2 else "")
            + ")"
        )
    return out


def with_generated(principals: list[Principal], secrets: Mapping[str, str]) -> dict[str, str]:
    """`secrets` plus a fresh random password for every principal it lacks."""
    out = dict(secrets)
    for principal in principals:
        out.setdefault(principal.name, new_password())
    return out


def upsert_scram(
    bootstrap: str, passwords: Mapping[str, str], security: KafkaSecurity | None = None
) -> list[str]:
    """Create or rotate the SCRAM-SHA-512 credential of each principal; the names done."""
    admin = AdminClient(secured({"bootstrap.servers": bootstrap}, security))
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS)
    upserts = [
        UserScramCredentialUpsertion(name, info, password.encode())
        for name, password in sorted(passwords.items())
    ]
    futures = admin.alter_user_scram_credentials(upserts, request_timeout=TIMEOUT)  # type: ignore[arg-type]
    for name, future in futures.items():
        try:
            future.result()
        except Exception as exc:
            raise SecretsError(
                f"broker refused the credential of {name}: {type(exc).__name__}"
            ) from None
    return sorted(passwords)
