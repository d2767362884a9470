"""The state file of a local stack: which parts run, their pids, addresses and logs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

STATE_FILE = "state.json"


class PartRecord(BaseModel):
    """What the launcher knows about one started part."""

    name: str
    pid: int
    address: str = Field(description="host:port the part listens on")
    url: str = Field(description="what a client connects to (bootstrap, HTTP or SQLAlchemy URL)")
    log: str
    marker: str = Field(description="a string in the process's command line proving it is ours")
    extra: dict[str, Any] = Field(default_factory=dict)


class StackState(BaseModel):
    """All parts of one stack directory."""

    stack_dir: str
    parts: dict[str, PartRecord] = Field(default_factory=dict)

    @classmethod
    def load(cls, stack_dir: Path) -> StackState | None:
        """Read the state of `stack_dir`, or None when no stack was started there."""
        path = stack_dir / STATE_FILE
        if not path.exists():
            return None
        return cls.model_validate_json(path.read_text())

    def save(self) -> None:
        """Write the state atomically (a crash never leaves half a file)."""
        path = Path(self.stack_dir) / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.model_dump(), indent=2))
        os.replace(tmp, path)

    def kafka_bootstrap(self) -> str | None:
        """The broker's bootstrap address, if Kafka is part of this stack; for a cluster
        (`stack up --brokers N`: parts `kafka-1` ... `kafka-N`) every node's, comma-separated."""
        part = self.parts.get("kafka")
        if part:
            return part.url
        nodes = sorted(name for name in self.parts if name.startswith("kafka-"))
        return ",".join(self.parts[name].url for name in nodes) or None

    def registry_url(self) -> str | None:
        """The Confluent-compatible registry URL, if the registry is part of this stack."""
        part = self.parts.get("registry")
        return part.url if part else None

    def database_url(self, name: str) -> str | None:
        """SQLAlchemy URL of the `postgres` or `mariadb` part, if started."""
        part = self.parts.get(name)
        return part.url if part else None
