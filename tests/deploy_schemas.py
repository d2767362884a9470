"""Check deployment manifests against the real schemas, never hand-written ones.

- Kubernetes' own kinds: `kubernetes-validate` (the API's JSON schemas, shipped in the package,
  offline), in strict mode: an unknown field is an error.
- Strimzi's kinds: the `openAPIV3Schema` of each CRD in `deploy/schemas/strimzi-1.2.0/`
  (jsonschema), plus what the API server does that jsonschema does not: a field the structural
  schema does not know is pruned (silently dropped), so it is reported here; the metadata is
  checked against Kubernetes' ObjectMeta.
- The compose file: `deploy/schemas/compose-spec/compose-spec.json`.

The upstream schemas are kept unchanged in `deploy/schemas/` (copied from the team's
`../shared/schemas/`, which a clean clone may not have beside it); a test checks the copy.

`manifest_problems(doc)` returns one message per problem, naming the kind, the name and the path.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "deploy" / "schemas"
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"
STRIMZI_DIR = SCHEMAS / "strimzi-1.2.0"
COMPOSE_SCHEMA = SCHEMAS / "compose-spec" / "compose-spec.json"
KUBERNETES_VERSION = "1.35"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# The API server's rule for most object names (RFC 1123 subdomain).
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@cache
def strimzi_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version of the Strimzi CRDs."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(STRIMZI_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                found[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    assert found, f"no Strimzi CRDs under {STRIMZI_DIR}"
    return found


@cache
def _object_meta_validator() -> jsonschema.protocols.Validator:
    version_dir = f"v{kubernetes_validate.utils.latest_version()}-local-strict"
    definitions = schema_contents(
        f"kubernetes-json-schema/{version_dir}/_definitions.json", KUBERNETES_VERSION
    )
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    schema = {"$ref": f"{definitions['$id']}#/$defs/{OBJECT_META}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _path(parts: Any) -> str:
    return ".".join(str(p) for p in parts) or "(root)"


def _pruned(instance: Any, schema: dict[str, Any], path: list[str]) -> list[str]:
    """Fields a structural schema does not declare (the API server would drop them)."""
    out: list[str] = []
    if isinstance(instance, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return out
        for key, value in instance.items():
            if not path and key == "metadata":  # ObjectMeta, checked on its own
                continue
            if properties is not None and key in properties:
                out += _pruned(value, properties[key], [*path, key])
            elif isinstance(additional, dict):
                out += _pruned(value, additional, [*path, key])
            elif properties is not None and additional is not True:
                out.append(f"{_path([*path, key])}: unknown field (pruned by the API server)")
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(instance):
            out += _pruned(item, schema["items"], [*path, str(index)])
    return out


def _strimzi_problems(doc: dict[str, Any]) -> list[str]:
    schema = strimzi_schemas().get((doc.get("apiVersion", ""), doc.get("kind", "")))
    if schema is None:
        return [f"no Strimzi CRD serves {doc.get('apiVersion')} {doc.get('kind')}"]
    validator = jsonschema.Draft7Validator(schema)
    out = [f"{_path(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    out += _pruned(doc, schema, [])
    out += [
        f"metadata.{_path(e.absolute_path)}: {e.message}"
        for e in _object_meta_validator().iter_errors(doc.get("metadata", {}))
    ]
    return out


def _kubernetes_problems(doc: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{_path(error.path)}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [error.message]
    return []


def manifest_problems(doc: dict[str, Any]) -> list[str]:
    """Every problem of one manifest against the real schemas (empty: valid)."""
    api_version = str(doc.get("apiVersion", ""))
    if api_version.startswith("kafka.strimzi.io/"):
        problems = _strimzi_problems(doc)
    else:
        problems = _kubernetes_problems(doc)
    name = str(doc.get("metadata", {}).get("name", ""))
    if not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        problems.append(f"metadata.name: {name!r} is not a DNS-1123 subdomain")
    label = f"{doc.get('kind')}/{name}"
    return [f"{label}: {problem}" for problem in problems]


def compose_problems(document: dict[str, Any]) -> list[str]:
    """Every problem of a compose file against the Compose specification's schema."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [f"{_path(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
