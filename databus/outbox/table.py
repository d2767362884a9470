"""The outbox table as SQLAlchemy sees it (the DDL shipped in `ddl/*.sql` creates it).

One row is one Kafka record to publish: topic, key, the Avro body without its 5-byte Confluent
header, and the fingerprint of the schema that wrote the body (the relay turns it into a registry
id). `published_at` stays NULL until the relay has Kafka's acknowledgement.

Timestamps are UTC from the database's own clock (`utc_now()`), with microseconds; on MariaDB and
SQLite they are stored without a zone and read back as aware UTC datetimes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import CHAR, TypeEngine

DEFAULT_TABLE: Final = "bus_outbox"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_SQLITE_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def check_table_name(name: str) -> str:
    """`name` if it is a safe unquoted SQL identifier (lower case, ≤ 48 chars), else ValueError."""
    if not _NAME.match(name):
        raise ValueError(
            f"outbox table name {name!r} must match {_NAME.pattern} "
            "(lower-case letters, digits, underscore; no schema prefix)"
        )
    return name


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC timestamp with microseconds; aware datetimes in, aware UTC datetimes out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return postgresql.TIMESTAMP(timezone=True, precision=6)
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "sqlite":
            return dialect.type_descriptor(
                sqlite.DATETIME(storage_format=_SQLITE_FORMAT)  # type: ignore[no-untyped-call]
            )
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("outbox timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class utc_now(FunctionElement[datetime]):  # noqa: N801 - reads like the SQL function it is
    """The database's current UTC time with microseconds, whatever the session time zone."""

    type = UtcDateTime()
    inherit_cache = True


@compiles(utc_now)
def _utc_now_default(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "now()"


@compiles(utc_now, "mysql")
@compiles(utc_now, "mariadb")
def _utc_now_mysql(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "UTC_TIMESTAMP(6)"


@compiles(utc_now, "sqlite")
def _utc_now_sqlite(element: utc_now, compiler: SQLCompiler, **kw: Any) -> str:
    # %f gives seconds with milliseconds; pad to the six fraction digits the column stores.
    return "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"


def _id_type() -> TypeEngine[int]:
    # SQLite's AUTOINCREMENT needs the exact type INTEGER (a 64-bit rowid).
    return BigInteger().with_variant(Integer(), "sqlite")


def _body_type() -> TypeEngine[bytes]:
    return LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


@cache
def outbox_table(name: str = DEFAULT_TABLE) -> Table:
    """The SQLAlchemy `Table` of the outbox called `name` (in its own MetaData)."""
    check_table_name(name)
    table = Table(
        name,
        MetaData(),
        Column("id", _id_type(), Identity(always=True), primary_key=True, autoincrement=True),
        Column("topic", String(249), nullable=False),
        Column("msg_key", String(64), nullable=False),
        Column("event_id", CHAR(36), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("schema_fingerprint", CHAR(16), nullable=False),
        Column("body", _body_type(), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False, server_default=utc_now()),
        Column("published_at", UtcDateTime(), nullable=True),
        sqlite_autoincrement=True,
    )
    # The relay's scan: unpublished rows in id order. A partial index where the database has
    # them; on MariaDB an index on (published_at, id) serves `published_at IS NULL ORDER BY id`.
    Index(
        f"{name}_unpublished",
        table.c.id,
        postgresql_where=table.c.published_at.is_(None),
        sqlite_where=table.c.published_at.is_(None),
    ).ddl_if(dialect=("postgresql", "sqlite"))  # type: ignore[arg-type]  # tuple: documented
    Index(f"{name}_unpublished", table.c.published_at, table.c.id).ddl_if(
        dialect=("mysql", "mariadb")  # type: ignore[arg-type]
    )
    return table
