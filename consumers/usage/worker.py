"""The data-usage consumer: `bus.data-usage.v1` into the audit table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, create_engine

from consumers.batch import BatchConsumer
from consumers.usage.store import create_usage_schema, store, to_row
from databus.settings import Settings
from databus.topology.topics import Topics
from schemas.models.base import Contract
from schemas.models.downstream import DataUsage


class UsageRecorder(BatchConsumer[dict[str, Any]]):
    """Stores every release of a citizen's data (idempotent on the usage id)."""

    record_type = DataUsage

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        *,
        group: str = "data-usage",
        batch_size: int = 2000,
    ) -> None:
        engine = create_engine(database_url, pool_pre_ping=True)
        create_usage_schema(engine)
        super().__init__(
            settings,
            Topics.from_settings(settings).data_usage,
            engine,
            group,
            batch_size=batch_size,
        )

    def to_item(self, record: Contract) -> dict[str, Any]:
        assert isinstance(record, DataUsage)
        return to_row(record)

    def write(self, conn: Connection, items: Sequence[dict[str, Any]]) -> int:
        return store(conn, items)
