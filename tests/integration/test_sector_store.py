"""The sector table's bulk upsert on PostgreSQL, MariaDB and SQLite: an older version never
overwrites a newer one, and deceased citizens are marked or erased as the sector says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError

from consumers.batch import database_unavailable
from consumers.sink import store
from consumers.sink.store import create_sector_schema, sector_citizens, to_row, upsert


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sector.sqlite'}"
    fixture = "pg_url" if request.param == "postgres" else "mariadb_url"
    return str(request.getfixturevalue(fixture))


def test_version_guard_and_deceased_handling(url: str) -> None:
    engine = create_engine(url)
    create_sector_schema(engine)
    alive = {"pin": "001190123456", "given_name": "Ánh", "household_id": None}
    with engine.begin() as conn:
        upsert(
            conn,
            [
                to_row("001190123456", 3, False, alive, erase_deceased=False),
                to_row(
                    "001190123456", 2, False, {**alive, "given_name": "Old"}, erase_deceased=False
                ),
                to_row("079090000001", 1, False, alive, erase_deceased=False),
            ],
        )
    with engine.begin() as conn:  # an older version arriving later changes nothing
        upsert(
            conn,
            [
                to_row(
                    "001190123456", 1, False, {**alive, "given_name": "Older"}, erase_deceased=False
                )
            ],
        )
    with engine.connect() as conn:
        rows = {r.pin: r for r in conn.execute(select(sector_citizens))}
    assert rows["001190123456"].version == 3
    assert json.loads(rows["001190123456"].record)["given_name"] == "Ánh"
    assert "household_id" not in json.loads(rows["001190123456"].record)

    with engine.begin() as conn:  # a sector that deletes: the data is erased, a tombstone stays
        upsert(conn, [to_row("079090000001", 2, True, alive, erase_deceased=True)])
    with engine.begin() as conn:
        upsert(conn, [to_row("079090000001", 1, False, alive, erase_deceased=True)])
    with engine.connect() as conn:
        tomb = conn.execute(
            select(sector_citizens).where(sector_citizens.c.pin == "079090000001")
        ).one()
    assert (tomb.version, tomb.deceased, tomb.record) == (2, True, None)
    engine.dispose()


def test_new_pins_are_copied_and_a_row_inserted_meanwhile_takes_the_guarded_upsert(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL copies PINs the table does not hold straight into it; if another writer
    inserted one between the lookup and the copy, the whole batch goes through the upsert and
    the newer version stays."""
    engine = create_engine(pg_url)
    create_sector_schema(engine)
    alive = {"pin": "001190123456", "given_name": "An"}
    with engine.begin() as conn:  # all new: copied
        upsert(
            conn,
            [to_row(f"00119012345{i}", 5, False, alive, erase_deceased=False) for i in range(3)],
        )
    monkeypatch.setattr(store, "held_pins", lambda _conn, _rows: set())  # the race
    with engine.begin() as conn:
        written = upsert(
            conn,
            [
                to_row(
                    "001190123450", 4, False, {**alive, "given_name": "Old"}, erase_deceased=False
                ),
                to_row(
                    "001190123451", 6, False, {**alive, "given_name": "New"}, erase_deceased=False
                ),
                to_row("001190123459", 1, False, alive, erase_deceased=False),
            ],
        )
    assert written == 3
    with engine.connect() as conn:
        rows = {r.pin: r for r in conn.execute(select(sector_citizens))}
    assert {pin: row.version for pin, row in rows.items()} == {
        "001190123450": 5,
        "001190123451": 6,
        "001190123452": 5,
        "001190123459": 1,
    }
    assert json.loads(rows["001190123450"].record)["given_name"] == "An"
    assert json.loads(rows["001190123451"].record)["given_name"] == "New"


def test_a_read_only_database_is_unavailable_not_a_bad_batch(pg_url: str) -> None:
    """The straight COPY's errors come as SQLAlchemy's, so the sink waits for a database
    turned read-only (retries the batch) instead of failing on it."""
    engine = create_engine(pg_url)
    create_sector_schema(engine)
    rows = [to_row("001190123499", 1, False, {"pin": "001190123499"}, erase_deceased=False)]
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        with pytest.raises(DBAPIError) as refused:
            upsert(conn, rows)
        conn.rollback()
    assert database_unavailable(refused.value)


def test_after_a_batch_of_new_pins_the_next_is_copied_first_and_a_held_pin_sends_it_back(
    pg_url: str,
) -> None:
    engine = create_engine(pg_url)
    create_sector_schema(engine)
    alive = {"pin": "001190123456", "given_name": "An"}
    inserts = store.Inserts()

    def rows(version: int, *pins: str) -> list[store.Row]:
        return [to_row(pin, version, False, alive, erase_deceased=False) for pin in pins]

    with engine.begin() as conn:
        store.upsert(conn, rows(1, "001190000001", "001190000002"), inserts)
    assert inserts.all_new
    with engine.begin() as conn:  # copied straight in, no lookup
        store.upsert(conn, rows(1, "001190000003"), inserts)
    assert inserts.all_new
    with engine.begin() as conn:  # the straight copy fails on a held PIN: the guarded way
        store.upsert(conn, rows(2, "001190000004", "001190000001"), inserts)
    assert not inserts.all_new
    with engine.begin() as conn:  # an older version of a held PIN changes nothing
        store.upsert(conn, rows(1, "001190000004"), inserts)
    with engine.connect() as conn:
        versions = {r.pin: r.version for r in conn.execute(select(sector_citizens))}
    assert versions == {
        "001190000001": 2,
        "001190000002": 1,
        "001190000003": 1,
        "001190000004": 2,
    }
