"""The secure stack for tests: TLS + SASL/SCRAM + ACLs on, in `<worktree>/.stack-secure`.

`secure_stack` (session) starts or reuses Kafka and the registry there, apart from the plain
stack of the rest of the suite. `secure_bus` (module) adds a topic prefix, a topology copy with
signing keys, every principal's credential, the topics, the schemas and the ACLs. Identities are
given to clients explicitly (`SecureBus.security(name)`) or, for a block of code, through the
environment (`SecureBus.acting_as(name)`), which is restored afterwards: the plain stack's tests
never see them.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from databus.security.client import KafkaSecurity
from databus.security.signing import EventSigner, new_signing_key
from databus.settings import Settings
from databus.stack.launcher import Stack
from databus.stack.secure_kafka import admin_env_file
from databus.stack.secure_kafka import secure_stack as make_secure_stack
from databus.stack.state import StackState
from tests.stack_access import StackAddresses

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SECURE_DIR = PROJECT_ROOT / ".stack-secure"
PARTS = ["kafka", "registry"]
KEYS = {
    "VN/GOV/BTP/hotich": ["btp-2025", "btp-2026"],
    "VN/GOV/BCA/cutru": ["bca-cutru-2025"],
    "VN/GOV/BCA/dancu": ["bca-dancu-2025"],  # the NPD: its outbox relay signs population changes
}


@dataclass
class SecureBus(StackAddresses):
    """A secure broker with this module's principals, topics, schemas and ACLs."""

    stack_dir: Path
    state: StackState
    prefix: str
    topology: Path
    passwords: dict[str, str]
    key_files: dict[str, Path] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        url = self.state.kafka_bootstrap()
        assert url
        return url

    @property
    def ca_file(self) -> Path:
        return admin_security(self.stack_dir).ca_file or Path()

    def security(self, principal: str, password: str | None = None) -> KafkaSecurity:
        """The identity of `principal` (its real password unless one is given)."""
        return KafkaSecurity(
            security_protocol="SASL_SSL",
            username=principal,
            password=password if password is not None else self.passwords[principal],
            ca_file=self.ca_file,
        )

    def env(self, principal: str) -> dict[str, str]:
        """The variables that make a process act as `principal` against this bus."""
        return {
            "DATABUS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "DATABUS_KAFKA_USERNAME": principal,
            "DATABUS_KAFKA_PASSWORD": self.passwords[principal],
            "DATABUS_KAFKA_CA_FILE": str(self.ca_file),
            "DATABUS_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABUS_REGISTRY_URL": self.registry_url,
            "DATABUS_TOPIC_PREFIX": self.prefix,
            "DATABUS_TOPOLOGY": str(self.topology),
            "DATABUS_STACK_DIR": str(self.stack_dir),
        }

    def admin_env(self) -> dict[str, str]:
        """The variables of the admin (the bus's own tooling)."""
        env = dict(self.env_base())
        env["DATABUS_KAFKA_ENV_FILE"] = str(admin_env_file(self.stack_dir))
        return env

    def env_base(self) -> dict[str, str]:
        return {
            "DATABUS_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABUS_REGISTRY_URL": self.registry_url,
            "DATABUS_TOPIC_PREFIX": self.prefix,
            "DATABUS_TOPOLOGY": str(self.topology),
            "DATABUS_STACK_DIR": str(self.stack_dir),
        }

    @contextmanager
    def acting_as(self, principal: str | None) -> Iterator[None]:
        """Within the block, clients built from the environment act as `principal` (None:
        the admin); the environment is restored afterwards."""
        env = self.admin_env() if principal is None else self.env(principal)
        saved = {k: os.environ.get(k) for k in [*env, "DATABUS_KAFKA_ENV_FILE"]}
        os.environ.pop("DATABUS_KAFKA_ENV_FILE", None)
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def settings(self, **overrides: Any) -> Settings:
        return Settings(
            bootstrap_servers=self.bootstrap,
            registry_url=self.registry_url,
            topology=self.topology,
            topic_prefix=self.prefix,
            stack_dir=self.stack_dir,
            **overrides,
        )

    def signer(self, key_id: str) -> EventSigner:
        return EventSigner.from_file(key_id, self.key_files[key_id])

    def process_env(self, principal: str | None, **extra: str) -> dict[str, str]:
        """This process's environment without its Kafka identity or signing key, acting as
        `principal` (None: the admin) against this bus, plus `extra`."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABUS_KAFKA_", "DATABUS_SIGNING_"))
        }
        own = self.admin_env() if principal is None else self.env(principal)
        return {**base, **own, **extra}

    def signing_env(self, key_id: str) -> dict[str, str]:
        """The variables that make a process sign with `key_id`."""
        return {
            "DATABUS_SIGNING_KEY_ID": key_id,
            "DATABUS_SIGNING_KEY_FILE": str(self.key_files[key_id]),
        }

    def cli(self, principal: str | None, *args: str, timeout: float = 120) -> str:
        """`databus ARGS` as `principal` (None: the admin); stdout and stderr together.

        Fails on an exit code other than 0 or 3 (3: `acl plan` with changes pending)."""
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            cwd=PROJECT_ROOT,
            env=self.process_env(principal),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode in {0, 3}, f"databus {' '.join(args)}: {output[-3000:]}"
        return output

    def secrets(self) -> list[str]:
        """Every secret of this bus, in the forms a leak would take: passwords (the
        principals' and the admin's) and the private signing keys (PEM body, its start, the
        raw key in hex)."""
        found = list(self.passwords.values())
        admin = admin_env_file(self.stack_dir).read_text()
        found += [line.split("=", 1)[1] for line in admin.splitlines() if "PASSWORD=" in line]
        for path in self.key_files.values():
            body = "".join(line for line in path.read_text().splitlines() if "-----" not in line)
            found += [body, body[:24], base64.b64decode(body)[-32:].hex()]
        return [secret for secret in found if secret]

    def assert_no_secret(self, text: str, where: str) -> None:
        """No password and no private key of this bus in `text` (named `where` on failure;
        the secret itself is never printed)."""
        leaked = sum(secret in text for secret in self.secrets())
        assert not leaked, f"{leaked} secret(s) appear in {where}"


def admin_security(stack_dir: Path) -> KafkaSecurity:
    return KafkaSecurity(_env_file=admin_env_file(stack_dir))


@pytest.fixture(scope="session")
def secure_stack() -> Iterator[tuple[Path, StackState]]:
    """Kafka (TLS + SASL + ACLs) and the registry in `.stack-secure`, reused when up."""
    stack = secure_stack_of(SECURE_DIR)
    already = stack.running()
    state = stack.up(PARTS, report=_report)
    try:
        yield stack.stack_dir, state
    finally:
        started = set(PARTS) - already
        if started:
            stack.down(started, report=_report)


STACK_REPORT: list[str] = []
"""What starting (and stopping) the secure stack reported in this run, for the secrets scan."""


def _report(line: str) -> None:
    STACK_REPORT.append(line)
    print(f"[secure stack] {line}")


def secure_stack_of(stack_dir: Path) -> Stack:
    return make_secure_stack(stack_dir, Settings().cache_dir)


def keyed_topology(directory: Path) -> tuple[Path, dict[str, Path]]:
    """A copy of deploy/topology.yaml whose agencies in KEYS have fresh signing keys."""
    data = yaml.safe_load((PROJECT_ROOT / "deploy" / "topology.yaml").read_text())
    files: dict[str, Path] = {}
    for agency in data["agencies"]:
        ids = KEYS.get(agency["id"], [])
        keys = []
        for key_id in ids:
            files[key_id] = directory / f"{key_id}.pem"
            keys.append({"id": key_id, "public_key": new_signing_key(files[key_id])})
        if keys:
            agency["signing_keys"] = keys
    path = directory / "topology.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path, files


@pytest.fixture(scope="module")
def secure_bus(
    secure_stack: tuple[Path, StackState], tmp_path_factory: pytest.TempPathFactory
) -> SecureBus:
    """This module's principals, topics, schemas and ACLs on the secure broker."""
    from databus.contracts import bindings
    from databus.kafka_admin import apply_topics
    from databus.schema_admin import RegistryAdmin, register_all
    from databus.security.acl_admin import AclAdmin
    from databus.security.acls import implied_acls
    from databus.security.credentials import upsert_scram, with_generated
    from databus.security.principals import bus_principals
    from databus.topology.loader import load_topology
    from databus.topology.topics import Topics
    from schemas.avro_files import AVRO_DIR

    stack_dir, state = secure_stack
    directory = tmp_path_factory.mktemp("secure")
    topology_path, key_files = keyed_topology(directory)
    topology = load_topology(topology_path)
    principals = [p for p in bus_principals(topology) if p.kind != "admin"]
    bus = SecureBus(
        stack_dir=stack_dir,
        state=state,
        prefix=f"s{uuid.uuid4().hex[:8]}.",
        topology=topology_path,
        passwords=with_generated(principals, {}),
        key_files=key_files,
    )
    admin = admin_security(stack_dir)
    upsert_scram(bus.bootstrap, bus.passwords, admin)
    with bus.acting_as(None):
        topics = Topics(topology, topic_prefix=bus.prefix)
        apply_topics(bus.bootstrap, topics.specs())
        register_all(RegistryAdmin(bus.registry_url), bindings(topics), AVRO_DIR)
    acls = AclAdmin(bus.bootstrap, admin)
    names = {p.name for p in bus_principals(topology)}
    acls.apply(acls.plan(implied_acls(topology, bus.prefix), names, bus.prefix))
    return bus
