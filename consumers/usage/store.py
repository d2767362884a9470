"""The data-usage trail: every release of a citizen's data, stored for citizens and auditors.

Two purposes share the trail: RELEASE (a sector received a projection) and VERIFICATION (a
sector's claims were checked against the record; `fields_released` then names the fields
compared, `outcome` the answer, and no value left the NPD).

`bus.data-usage.v1` is consumed into the `data_usage` table of the population database (the
audit store of record). A usage id is derived from (sector, PIN, version), so a release the
router repeated is stored once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)

from schemas.models.downstream import DataUsage

metadata = MetaData()
data_usage = Table(
    "data_usage",
    metadata,
    Column("usage_id", String(36), primary_key=True),
    Column("pin", String(12), nullable=False),
    Column("sector", String(64), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("fields_released", Text, nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("citizen_version", BigInteger, nullable=False),
    Column("event_id", String(36)),
    Column("released_at", DateTime(timezone=True), nullable=False),
    Column("purpose", String(16), nullable=False, server_default="RELEASE"),
    Column("outcome", String(24)),
    Index("ix_data_usage_pin_released", "pin", "released_at"),
)


def create_usage_schema(engine: Engine) -> None:
    """Create the audit table if missing."""
    metadata.create_all(engine)


def to_row(usage: DataUsage) -> dict[str, Any]:
    """The stored form of one usage record."""
    return {
        "usage_id": str(usage.usage_id),
        "pin": usage.pin,
        "sector": usage.sector,
        "agency": usage.agency,
        "fields_released": json.dumps(usage.fields_released),
        "legal_basis": json.dumps(usage.legal_basis, ensure_ascii=False),
        "citizen_version": usage.citizen_version,
        "event_id": str(usage.event_id) if usage.event_id else None,
        "released_at": usage.released_at,
        "purpose": usage.purpose.value,
        "outcome": usage.outcome,
    }


def store(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert usage rows, ignoring ones already stored (same usage id)."""
    unique = list({r["usage_id"]: r for r in rows}.values())
    if not unique:
        return 0
    columns = ", ".join(unique[0])
    values = ", ".join(f":{c}" for c in unique[0])
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        statement = f"INSERT IGNORE INTO data_usage ({columns}) VALUES ({values})"
    else:
        statement = (
            f"INSERT INTO data_usage ({columns}) VALUES ({values}) "
            "ON CONFLICT (usage_id) DO NOTHING"
        )
    conn.execute(text(statement), unique)
    return len(unique)


def trail(conn: Connection, pin: str) -> list[dict[str, Any]]:
    """Who received or verified this citizen's data, when, which fields, under which basis;
    newest first."""
    rows = conn.execute(
        select(data_usage)
        .where(data_usage.c.pin == pin)
        .order_by(data_usage.c.released_at.desc(), data_usage.c.citizen_version.desc())
    )
    return [
        {
            "released_at": _iso(r.released_at),
            "sector": r.sector,
            "agency": r.agency,
            "fields": json.loads(r.fields_released),
            "legal_basis": json.loads(r.legal_basis),
            "citizen_version": r.citizen_version,
            "event_id": r.event_id,
            "purpose": r.purpose,
            "outcome": r.outcome,
        }
        for r in rows
    ]


def _iso(value: datetime) -> str:
    return value.isoformat()
