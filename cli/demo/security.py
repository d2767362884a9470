"""Demo step: who may do what on the bus, signed events, and the deployment rendered from the
topology.

The plain demo stack runs without TLS or SASL (`databus stack up --secure` is the broker that
enforces all this, docs/security.md); the step shows what the topology implies: one principal per
agency and component with least-privilege ACLs (the rules `databus acl apply` gives the broker
and the Kubernetes `KafkaUser`s carry), an agency's Ed25519 signature accepted, and a tampered,
foreign or missing one refused as the population sync refuses them (`bad_signature`), and the
Kubernetes manifests rendered from the same topology.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from rich.table import Table

from cli.output import console
from databus.deploy.render import kubernetes_files
from databus.security.acls import implied_acls
from databus.security.principals import bus_principals
from databus.security.signing import (
    EventSigner,
    SignatureVerifier,
    load_public_key,
    new_signing_key,
)
from databus.settings import Settings
from databus.topology.model import Topology
from databus.topology.topics import Topics

KEY_ID = "demo-civil-status-key"
SAMPLE_KEY = "0010890123456"
"""Not a citizen's PIN: the signed sample record is made up."""


def show_security(settings: Settings, topology: Topology) -> bool:
    """Print the principals and their rules, check signatures both ways, render the manifests."""
    return _principals(topology) & _signatures(topology) & _deployment(settings, topology)


def _principals(topology: Topology) -> bool:
    rules = implied_acls(topology)
    table = Table("principal", "kind", "writes topics", "reads topics", "groups", "rules")
    table.columns[0].no_wrap = True
    for principal in bus_principals(topology):
        mine = [r for r in rules if r.principal == principal.name]
        ops = Counter((r.resource_type, r.operation) for r in mine)
        table.add_row(
            principal.name,
            principal.kind,
            str(ops[("topic", "Write")]),
            str(ops[("topic", "Read")]),
            str(sum(1 for r in mine if r.resource_type == "group")),
            str(len(mine)) if principal.kind != "admin" else "super user",
        )
    console.print(table)
    console.print(
        f"{len(rules)} allow rules from the topology; everything else is refused by the broker "
        "(`databus acl plan|apply`, `databus stack up --secure`)",
        soft_wrap=True,
    )
    return bool(rules)


def _signatures(topology: Topology) -> bool:
    source = next(iter(topology.sources.values()))
    topics = Topics(topology)
    topic = topics.source_topic(next(iter(topology.sources)))
    other = next(a.id for a in topology.agencies if a.id != source.agency)
    with tempfile.TemporaryDirectory(prefix="databus-demo-key-") as keys:
        public = new_signing_key(Path(keys) / "agency.pem")
        signer = EventSigner.from_file(KEY_ID, Path(keys) / "agency.pem")
    verifier = SignatureVerifier({KEY_ID: (source.agency, load_public_key(public))}, "required")
    value, event_id = b"an Avro body", "7f0c2a52-3f7e-4d1c-9d2b-0d7f4c1e9a10"
    headers: list[tuple[str, str | bytes | None]] = [
        *signer.headers(topic, SAMPLE_KEY, value, event_id),
        ("event_id", event_id),
    ]
    checks = [
        (
            "signed by its agency",
            verifier.problem(source.agency, topic, SAMPLE_KEY, value, headers),
        ),
        (
            "value changed on the way",
            verifier.problem(source.agency, topic, SAMPLE_KEY, b"x", headers),
        ),
        (
            "same bytes on another agency's topic",
            verifier.problem(other, topic, SAMPLE_KEY, value, headers),
        ),
        ("unsigned", verifier.problem(source.agency, topic, SAMPLE_KEY, value, [])),
    ]
    for what, problem in checks:
        verdict = "[green]accepted[/]" if problem is None else f"[red]bad_signature[/]: {problem}"
        console.print(f"  {what}: {verdict}", soft_wrap=True, highlight=False)
    expected = [True, False, False, False]
    return [problem is None for _, problem in checks] == expected


def _deployment(settings: Settings, topology: Topology) -> bool:
    text = Path(settings.topology).read_text(encoding="utf-8")
    files = kubernetes_files(topology, text, "production")
    committed = Path(settings.topology).parent / "k8s"
    current = all(
        (committed / path).is_file() and (committed / path).read_text(encoding="utf-8") == body
        for path, body in files.items()
    )
    kinds = Counter(
        line.split(":", 1)[1].strip()
        for body in files.values()
        for line in body.splitlines()
        if line.startswith("kind:")
    )
    console.print(
        f"`databus deploy render --env prod`: {len(files)} files, "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        + f"; {committed} is {'current' if current else 'NOT current: re-render it'}",
        soft_wrap=True,
    )
    return bool(files)
