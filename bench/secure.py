"""The secure side of a benchmark: the same work on the secure stack (`databus stack up --secure`:
TLS + SASL/SCRAM-SHA-512 + the ACLs derived from the topology), every client under its own
principal, every event signed (Ed25519), so that secure rate / plain rate is the cost of TLS +
SASL + signing.

    with secure_bench(Path(".stack-secure"), prefix, workdir) as secure:
        with secure.acting_as("vn.gov.btp.hotich"):
            publisher = Publisher.for_source("civil-status", settings=secure.settings,
                                             signer=secure.signer("civil-status"))

The run gets its own topics (under `prefix`), a copy of the topology with a fresh signing key
per source agency, fresh passwords for the principals and the implied ACLs; its topics and ACLs
are removed at the end. `signing_cost` times signing and verifying alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.stack import delete_topics
from databus.contracts import bindings
from databus.kafka_admin import apply_topics
from databus.schema_admin import RegistryAdmin, register_all
from databus.security.acl_admin import AclAdmin
from databus.security.acls import implied_acls
from databus.security.credentials import upsert_scram, with_generated
from databus.security.principals import bus_principals
from databus.security.signing import EventSigner, SignatureVerifier, new_signing_key
from databus.settings import Settings
from databus.stack.secure_kafka import admin_env_file, admin_security, is_secure
from databus.stack.state import StackState
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics
from schemas.avro_files import AVRO_DIR

DEFAULT_DIR = Path(".stack-secure")
IDENTITY_VARIABLES = (
    "DATABUS_KAFKA_SECURITY_PROTOCOL",
    "DATABUS_KAFKA_USERNAME",
    "DATABUS_KAFKA_PASSWORD",
    "DATABUS_KAFKA_PASSWORD_FILE",
    "DATABUS_KAFKA_CA_FILE",
    "DATABUS_KAFKA_ENV_FILE",
)


@dataclass
class SecureBench:
    """One benchmark run's principals, keys, topics and ACLs on the secure stack."""

    stack_dir: Path
    settings: Settings
    topology: Topology
    passwords: dict[str, str]
    key_files: dict[str, Path]
    """Source agency id -> its private key (PEM, 0600), key id `bench-<n>`."""

    @property
    def bootstrap(self) -> str:
        return self.settings.endpoints.bootstrap_servers

    def identity(self, principal: str | None) -> dict[str, str]:
        """The variables of `principal` (None: the admin, from the stack's 0600 file)."""
        if principal is None:
            return {"DATABUS_KAFKA_ENV_FILE": str(admin_env_file(self.stack_dir))}
        ca = admin_security(self.stack_dir).ca_file
        return {
            "DATABUS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "DATABUS_KAFKA_USERNAME": principal,
            "DATABUS_KAFKA_PASSWORD": self.passwords[principal],
            "DATABUS_KAFKA_CA_FILE": str(ca),
        }

    @contextmanager
    def acting_as(self, principal: str | None) -> Iterator[None]:
        """Clients built within the block act as `principal` (None: the admin)."""
        saved = {k: os.environ.pop(k, None) for k in IDENTITY_VARIABLES}
        os.environ.update(self.identity(principal))
        try:
            yield
        finally:
            for key in IDENTITY_VARIABLES:
                os.environ.pop(key, None)
            os.environ.update({k: v for k, v in saved.items() if v is not None})

    def signer(self, source: str) -> EventSigner:
        """The signer of the agency publishing `source`."""
        agency = self.topology.source(source).agency
        key_id = next(k.id for k in self.topology.agency(agency).signing_keys)
        return EventSigner.from_file(key_id, self.key_files[agency])


def secure_stack_running(stack_dir: Path) -> bool:
    """Whether `stack_dir` holds a running secure stack's state."""
    state = StackState.load(stack_dir)
    return bool(state and is_secure(stack_dir) and state.kafka_bootstrap() and state.registry_url())


def _keyed_topology(base: Path, workdir: Path) -> tuple[Path, dict[str, Path]]:
    """A copy of `base` where every source agency has one fresh signing key."""
    data = yaml.safe_load(base.read_text())
    publishing = {source["agency"] for source in data["sources"].values()}
    files: dict[str, Path] = {}
    for n, agency in enumerate(data["agencies"]):
        if agency["id"] in publishing:
            files[agency["id"]] = workdir / f"bench-{n}.pem"
            public = new_signing_key(files[agency["id"]])
            agency["signing_keys"] = [{"id": f"bench-{n}", "public_key": public}]
    path = workdir / "topology-signed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path, files


@contextmanager
def secure_bench(stack_dir: Path, prefix: str, workdir: Path) -> Iterator[SecureBench]:
    """Set up a run on the secure stack in `stack_dir` (see the module docstring)."""
    state = StackState.load(stack_dir)
    if not secure_stack_running(stack_dir) or state is None:
        raise SystemExit(f"no secure stack in {stack_dir}: `databus stack up --secure` first")
    bootstrap, registry = state.kafka_bootstrap(), state.registry_url()
    assert bootstrap and registry
    topology_path, key_files = _keyed_topology(Settings().topology, workdir)
    topology = load_topology(topology_path)
    settings = Settings(
        bootstrap_servers=bootstrap,
        registry_url=registry,
        topology=topology_path,
        topic_prefix=prefix,
        stack_dir=stack_dir,
        signatures="required",
    )
    principals = [p for p in bus_principals(topology) if p.kind != "admin"]
    bench = SecureBench(stack_dir, settings, topology, with_generated(principals, {}), key_files)
    admin = admin_security(stack_dir)
    upsert_scram(bootstrap, bench.passwords, admin)
    acls = AclAdmin(bootstrap, admin)
    names = {p.name for p in principals}
    acls.apply(acls.plan(implied_acls(topology, prefix), names, prefix))
    topics = Topics(topology, topic_prefix=prefix)
    try:
        with bench.acting_as(None):
            apply_topics(bootstrap, topics.specs())
            register_all(RegistryAdmin(registry), bindings(topics), AVRO_DIR)
        yield bench
    finally:
        with bench.acting_as(None):
            delete_topics(bootstrap, [spec.name for spec in topics.specs()])
        acls.apply(acls.plan(frozenset(), names, prefix))


Record = tuple[str, bytes, bytes, str]
"""(topic, key, value, event id): what a signature covers."""


def signing_cost(records: Sequence[Record], signer: EventSigner) -> tuple[float, float]:
    """Microseconds per event to sign `records` and to verify them (the population sync's full
    check: headers, key lookup, owner, Ed25519), each timed on its own, one core."""
    started = time.perf_counter()
    signed = [signer.headers(*record) for record in records]
    sign_us = (time.perf_counter() - started) / len(records) * 1e6
    public = signer.private_key.public_key()
    verifier = SignatureVerifier({signer.key_id: ("owner", public)}, "required")
    headers = [[*h, ("event_id", r[3].encode())] for h, r in zip(signed, records, strict=True)]
    started = time.perf_counter()
    problems = [
        verifier.problem("owner", topic, key, value, header)
        for (topic, key, value, _), header in zip(records, headers, strict=True)
    ]
    verify_us = (time.perf_counter() - started) / len(records) * 1e6
    assert not any(problems), "a signature did not verify"
    return sign_us, verify_us
