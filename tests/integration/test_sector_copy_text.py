"""The PostgreSQL upsert sends its rows as COPY text made in Python: awkward values (backslashes,
tabs, new lines, returns, quotes, non-ASCII, erased records) arrive exactly as given."""

from __future__ import annotations

from sqlalchemy import create_engine, select

from consumers.sink.store import Row, create_sector_schema, sector_citizens, upsert

AWKWARD = [
    '{"street": "Số 5 \\"Hẻm\\" \\\\ 12"}',
    "tab\there, new line\nand return\r",
    "\\N is not null here, nor \\\\N",
    "🏠 nhà \u2028 \x7f",
    "",
]


def test_awkward_values_survive_the_copy_text(pg_url: str) -> None:
    engine = create_engine(pg_url)
    create_sector_schema(engine)
    rows = [Row(f"0011901234{i:02d}", i + 1, i % 2 == 0, text) for i, text in enumerate(AWKWARD)]
    rows.append(Row("001190123499", 7, True, None))
    with engine.begin() as conn:
        assert upsert(conn, rows) == len(rows)
    with engine.connect() as conn:
        stored = {
            r.pin: Row(r.pin, int(r.version), bool(r.deceased), r.record)
            for r in conn.execute(select(sector_citizens))
        }
    assert stored == {row.pin: row for row in rows}
    engine.dispose()
