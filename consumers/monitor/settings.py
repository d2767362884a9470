"""Settings of the lag monitor, from `DATABUS_MONITOR_*` variables (CLI options override them)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitorSettings(BaseSettings):
    """How often and how the monitor looks, and how it judges (docs/observability.md)."""

    model_config = SettingsConfigDict(env_prefix="DATABUS_MONITOR_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=9308, ge=0, le=65535, description="HTTP port (0: any free port).")
    interval_seconds: float = Field(default=10.0, gt=0, description="Seconds between collections.")
    window: int = Field(
        default=6, ge=2, description="Observations in the sliding window health is judged on."
    )
    kafka_timeout_seconds: float = Field(default=5.0, gt=0, description="Per Admin API call.")
    retries: int = Field(default=3, ge=0, description="Retries of a transient broker answer.")
    group_prefix: str = Field(
        default="", description="Put before the components' default group names (tests)."
    )
    heartbeat_grace: float = Field(
        default=2.5,
        gt=1,
        description="A heartbeat is late after this many promised intervals.",
    )
    probe_interval_seconds: float = Field(default=10.0, gt=0)
    probe_timeout_seconds: float = Field(default=3.0, gt=0)
    timestamp_cache_size: int = Field(
        default=100_000, ge=1, description="Record timestamps kept (topic, partition, offset)."
    )
    timestamp_fetch_budget: int = Field(
        default=5000,
        ge=0,
        description="Most record timestamps one collection reads.",
    )
    timestamp_fetch_seconds: float = Field(
        default=4.0, gt=0, description="Longest one collection spends reading record timestamps."
    )
    component_metrics_urls: list[str] = Field(
        default_factory=list,
        description="Components' /metrics URLs, read for their freshness histograms.",
    )
    history_seconds: float = Field(default=3600.0, gt=0, description="History kept for charts.")
    publish_status: bool = Field(
        default=True, description="Publish status changes to bus.connection-status.v1."
    )
