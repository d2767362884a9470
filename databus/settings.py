"""Process-wide settings, read from `DATABUS_*` environment variables.

Endpoints left unset fall back to the local stack started by `databus stack up`
(its state file records the addresses it chose).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "databus"


class Settings(BaseSettings):
    """Settings of one bus process. Every field maps to `DATABUS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="DATABUS_", extra="ignore")

    bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers; default: the local stack's broker."
    )
    registry_url: str | None = Field(
        default=None,
        description="Confluent-compatible registry URL; default: the local stack's registry.",
    )
    topology: Path = Field(
        default=Path("deploy/topology.yaml"), description="Path of the topology file."
    )
    environment: str = Field(
        default="local", description="Which topic defaults of the topology apply."
    )
    topic_prefix: str = Field(
        default="", description="Prefix put before every derived topic name (tests, tenants)."
    )
    signatures: Literal["required", "optional"] | None = Field(
        default=None,
        description="Event signatures: required, or optional (checked when present); default "
        "required outside `local` and whenever Kafka is reached with SASL (docs/security.md).",
    )
    stack_dir: Path = Field(
        default=Path(".stack"), description="Where the local stack keeps state, data and logs."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the components' /metrics, /healthz and /readyz bind "
        "(0.0.0.0 in a container, so that probes and Prometheus reach them).",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where downloaded jars are cached, outside the repository.",
    )

    @cached_property
    def endpoints(self) -> Endpoints:
        """Kafka and registry addresses: explicit settings first, then the local stack."""
        from databus.stack.state import StackState

        state = StackState.load(self.stack_dir)
        bootstrap = self.bootstrap_servers or (state.kafka_bootstrap() if state else None)
        registry = self.registry_url or (state.registry_url() if state else None)
        if not bootstrap or not registry:
            raise EndpointsMissingError(
                "no Kafka/registry address: set DATABUS_BOOTSTRAP_SERVERS and "
                "DATABUS_REGISTRY_URL, or start the local stack with `databus stack up`"
            )
        return Endpoints(bootstrap_servers=bootstrap, registry_url=registry)


class EndpointsMissingError(RuntimeError):
    """Raised when neither settings nor a running local stack give an address."""


class Endpoints:
    """The two addresses every client needs."""

    def __init__(self, bootstrap_servers: str, registry_url: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.registry_url = registry_url

    def __repr__(self) -> str:
        return f"Endpoints({self.bootstrap_servers!r}, {self.registry_url!r})"
