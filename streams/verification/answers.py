"""The verifier's memory of its answers: a repeated request id gets the very same answer.

`verification_answers` (in the population database, next to what it verifies) keeps the
encoded result of every request id per sector. A batch first reads the answers it already
gave (one query), answers only the new requests and stores them (one statement) before any
result is produced; a replayed batch (crash before the offsets were committed) therefore sends
byte-identical results again, and a request id is counted once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
)

metadata = MetaData()
verification_answers = Table(
    "verification_answers",
    metadata,
    Column("sector", String(64), primary_key=True),
    Column("request_id", String(36), primary_key=True),
    Column("result", LargeBinary, nullable=False),
    Column("usage", LargeBinary),
    Column("answered_at", DateTime(timezone=True), nullable=False),
)

_PG_STORE = text(
    "INSERT INTO verification_answers (sector, request_id, result, usage, answered_at) "
    "SELECT * FROM unnest(CAST(:sectors AS text[]), CAST(:ids AS text[]), "
    "CAST(:results AS bytea[]), CAST(:usages AS bytea[]), CAST(:times AS timestamptz[])) "
    "ON CONFLICT DO NOTHING"
)
_PG_KNOWN = text(
    "SELECT request_id, result, usage FROM verification_answers "
    "WHERE sector = :sector AND request_id = ANY(CAST(:ids AS text[]))"
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One answer to keep: the request id, its encoded result and data-usage record."""

    request_id: str
    result: bytes
    usage: bytes | None
    answered_at: datetime


def create_answers_schema(engine: Engine) -> None:
    """Create the answers table if missing."""
    metadata.create_all(engine)


def known_answers(
    conn: Connection, sector: str, request_ids: Collection[str]
) -> dict[str, tuple[bytes, bytes | None]]:
    """Request id -> (encoded result, encoded usage record) already given, for the ids of
    `request_ids` that were answered."""
    if not request_ids:
        return {}
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_PG_KNOWN, {"sector": sector, "ids": list(request_ids)})
    else:
        table = verification_answers
        rows = conn.execute(
            select(table.c.request_id, table.c.result, table.c.usage).where(
                table.c.sector == sector, table.c.request_id.in_(list(request_ids))
            )
        )
    return {
        row.request_id: (bytes(row.result), bytes(row.usage) if row.usage is not None else None)
        for row in rows
    }


def store_answers(conn: Connection, sector: str, answers: Sequence[StoredAnswer]) -> None:
    """Keep new answers (one statement); an id already stored keeps its first answer."""
    if not answers:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            _PG_STORE,
            {
                "sectors": [sector] * len(answers),
                "ids": [a.request_id for a in answers],
                "results": [a.result for a in answers],
                "usages": [a.usage for a in answers],
                "times": [a.answered_at for a in answers],
            },
        )
        return
    statement = insert(verification_answers).prefix_with("OR IGNORE")
    conn.execute(
        statement,
        [
            {
                "sector": sector,
                "request_id": a.request_id,
                "result": a.result,
                "usage": a.usage,
                "answered_at": a.answered_at,
            }
            for a in answers
        ],
    )
