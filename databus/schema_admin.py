"""Publish the repository's schemas to the registry and check a working tree against it.

`check` asks two questions per subject. Backward: can the new schema read everything already
written? The real registry answers under its BACKWARD_TRANSITIVE rule. Forward: can consumers
still on an earlier version read what the new schema writes? Sectors upgrade on their own
schedule, so a change that breaks them (e.g. removing a required field) fails the check too;
the Apache `avro` library's reader/writer checker answers that against every registered version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import avro.schema
import httpx
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from databus.contracts import Binding

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True)
class Registration:
    """Outcome of registering one subject."""

    subject: str
    schema_name: str
    schema_id: int
    version: int
    new_version: bool


@dataclass(frozen=True)
class CheckResult:
    """Outcome of checking one subject against the registry."""

    subject: str
    schema_name: str
    status: str  # "compatible", "unchanged", "new", "incompatible"
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != "incompatible"


class RegistryAdmin:
    """Thin client of the Confluent-compatible registry API for schema administration."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout, headers={"Content-Type": CONTENT_TYPE})

    def versions(self, subject: str) -> list[int]:
        response = self.http.get(f"{self.url}/subjects/{subject}/versions")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return [int(v) for v in response.json()]

    def schema(self, subject: str, version: int) -> str:
        response = self.http.get(f"{self.url}/subjects/{subject}/versions/{version}")
        response.raise_for_status()
        text: str = response.json()["schema"]
        return text

    def register(self, subject: str, schema: str) -> int:
        response = self.http.post(
            f"{self.url}/subjects/{subject}/versions", json={"schema": schema, "schemaType": "AVRO"}
        )
        if response.status_code == 409:
            raise IncompatibleSchemaError(subject, response.json().get("message", "incompatible"))
        response.raise_for_status()
        schema_id: int = response.json()["id"]
        return schema_id

    def lookup(self, subject: str, schema: str) -> tuple[int, int] | None:
        """(id, version) when this exact schema is registered under `subject`."""
        response = self.http.post(f"{self.url}/subjects/{subject}", json={"schema": schema})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body = response.json()
        return int(body["id"]), int(body["version"])

    def backward_compatible(self, subject: str, schema: str) -> bool:
        response = self.http.post(
            f"{self.url}/compatibility/subjects/{subject}/versions/latest",
            json={"schema": schema, "schemaType": "AVRO"},
        )
        response.raise_for_status()
        return bool(response.json()["is_compatible"])


class IncompatibleSchemaError(RuntimeError):
    """The registry refused a schema under its compatibility rule."""

    def __init__(self, subject: str, message: str) -> None:
        super().__init__(f"{subject}: registry refused the schema: {message}")
        self.subject = subject


def schema_file_text(schemas_dir: Path, schema_name: str) -> str:
    """Compact JSON text of `<schemas_dir>/<schema_name>.avsc`."""
    path = schemas_dir / f"{schema_name}.avsc"
    return json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False)


def register_all(
    admin: RegistryAdmin, bindings: list[Binding], schemas_dir: Path
) -> list[Registration]:
    """Register each binding's schema under its subject (idempotent: same schema, same id)."""
    results = []
    for binding in bindings:
        text = schema_file_text(schemas_dir, binding.schema_name)
        before = admin.lookup(binding.subject, text)
        if before is None:
            admin.register(binding.subject, text)
        found = admin.lookup(binding.subject, text)
        assert found is not None
        results.append(
            Registration(
                binding.subject, binding.schema_name, found[0], found[1], new_version=before is None
            )
        )
    return results


def check_all(
    admin: RegistryAdmin, bindings: list[Binding], schemas_dir: Path
) -> list[CheckResult]:
    """Compare the working tree's schema of every binding with what the registry holds."""
    results = []
    for binding in bindings:
        text = schema_file_text(schemas_dir, binding.schema_name)
        versions = admin.versions(binding.subject)
        if not versions:
            results.append(CheckResult(binding.subject, binding.schema_name, "new"))
            continue
        if admin.lookup(binding.subject, text) is not None:
            results.append(CheckResult(binding.subject, binding.schema_name, "unchanged"))
            continue
        problems = []
        if not admin.backward_compatible(binding.subject, text):
            problems.append("backward: the registry says it cannot read data already written")
        new = avro.schema.parse(text)
        checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
        for version in versions:
            old = avro.schema.parse(admin.schema(binding.subject, version))
            result = checker.get_compatibility(reader=old, writer=new)
            if result.compatibility is not SchemaCompatibilityType.compatible:
                detail = "; ".join(sorted(result.messages)) or "incompatible"
                problems.append(f"forward: readers on version {version} cannot read it ({detail})")
        status = "incompatible" if problems else "compatible"
        results.append(CheckResult(binding.subject, binding.schema_name, status, tuple(problems)))
    return results
