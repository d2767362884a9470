"""Access to the Avro schema files (`schemas/avro/*.avsc`) shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

AVRO_DIR = Path(__file__).parent / "avro"


@cache
def schema_text(name: str) -> str:
    """Canonical JSON text of the schema `name` (the record name, e.g. "Heartbeat")."""
    path = AVRO_DIR / f"{name}.avsc"
    if not path.exists():
        raise KeyError(f"no Avro schema named {name!r} in {AVRO_DIR}")
    return json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False)


def schema_dict(name: str) -> dict[str, Any]:
    """The schema `name` as a parsed JSON object."""
    parsed: dict[str, Any] = json.loads(schema_text(name))
    return parsed


def schema_names() -> list[str]:
    """Names of every shipped schema."""
    return sorted(p.stem for p in AVRO_DIR.glob("*.avsc"))
