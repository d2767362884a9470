"""Batched look-up of what verification compares: one query for a whole batch of PINs.

The query reads, for every PIN of the batch that is a current citizen, the few fields a claim
can be compared with (never the whole record), and for every PIN that was re-established, only
the fact that it was (never the new PIN). On PostgreSQL the PINs travel as one array parameter
(`pin = ANY(:pins)`), so the statement is the same for every batch.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    String,
    any_,
    bindparam,
    literal,
    null,
    select,
    union_all,
)

from databus.population.schema import citizens, pin_links

COMPARED: tuple[str, ...] = (
    "family_name",
    "middle_name",
    "given_name",
    "date_of_birth",
    "sex",
    "identity_card_number",
)
"""The citizen values a verification may compare claims with (identity card: its number)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """What the NPD holds for one looked-up PIN, for comparison only (never sent anywhere)."""

    replaced: bool
    """The PIN was re-established: it belongs to no current citizen any more."""
    version: int = 0
    deceased: bool = False
    values: tuple[str | None, ...] = ()
    """The COMPARED values, in that order (text; None when the record has none)."""

    def value(self, name: str) -> str | None:
        """One COMPARED value by name."""
        return self.values[COMPARED.index(name)]


REPLACED = Subject(replaced=True)


def _one_of(column: Any, pins: Collection[str], postgres: bool) -> ColumnElement[bool]:
    clause: ColumnElement[bool]
    if postgres:
        clause = column == any_(bindparam(None, list(pins), type_=ARRAY(String(12))))
        return clause
    clause = column.in_(list(pins))
    return clause


def lookup_subjects(conn: Connection, pins: Collection[str]) -> dict[str, Subject]:
    """PIN -> Subject for every PIN of `pins` the NPD knows (current or re-established), in
    ONE query; PINs it does not know are absent."""
    if not pins:
        return {}
    postgres = conn.dialect.name == "postgresql"
    record = citizens.c.record
    current = select(
        citizens.c.pin.label("pin"),
        literal(False, Boolean).label("replaced"),
        citizens.c.version.label("version"),
        citizens.c.deceased.label("deceased"),
        record["family_name"].as_string().label("family_name"),
        record["middle_name"].as_string().label("middle_name"),
        record["given_name"].as_string().label("given_name"),
        record["date_of_birth"].as_string().label("date_of_birth"),
        record["sex"].as_string().label("sex"),
        record[("identity_card", "number")].as_string().label("identity_card_number"),
    ).where(_one_of(citizens.c.pin, pins, postgres))
    replaced = select(
        pin_links.c.old_pin.label("pin"),
        literal(True, Boolean).label("replaced"),
        null().cast(BigInteger).label("version"),
        null().cast(Boolean).label("deceased"),
        *(null().cast(String).label(name) for name in COMPARED),
    ).where(_one_of(pin_links.c.old_pin, pins, postgres))
    out: dict[str, Subject] = {}
    for row in conn.execute(union_all(current, replaced)):
        if row.replaced:
            out.setdefault(row.pin, REPLACED)
        else:
            out[row.pin] = Subject(
                False,
                int(row.version),
                bool(row.deceased),
                (
                    row.family_name,
                    row.middle_name,
                    row.given_name,
                    row.date_of_birth,
                    row.sex,
                    row.identity_card_number,
                ),
            )
    return out
