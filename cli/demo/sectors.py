"""Demo step: the router releases every change to the sectors that may see it, the sinks fill
their databases (SQLite here; PostgreSQL and MariaDB work the same), and the usage trail of one
citizen shows who received what, when, and why."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table
from sqlalchemy import create_engine, func, select

from cli.demo.population import _start, _stop
from cli.demo.run_id import GROUP_PREFIX
from cli.output import console
from databus.consumer_groups import SECTOR_ROUTER, sink_group
from databus.settings import Settings
from databus.topology.model import Topology

SECTORS = ("social-insurance", "tax", "health")
TIMEOUT = 180.0


def show_sectors(
    settings: Settings,
    topology: Topology,
    workdir: Path,
    while_running: Callable[[], object] | None = None,
) -> bool:
    """Run the router, three sinks and the usage recorder until the sectors are filled;
    `while_running` is called then, before they are stopped."""
    from consumers.sink.store import create_sector_schema, sector_citizens
    from consumers.usage.store import create_usage_schema, data_usage, trail
    from databus.population.schema import citizens

    run = int(time.time())
    npd = f"sqlite:///{(workdir / 'npd.sqlite').resolve()}"
    with create_engine(npd).connect() as conn:
        expected = int(conn.execute(select(func.count()).select_from(citizens)).scalar() or 0)
        busiest = conn.execute(
            select(citizens.c.pin).order_by(citizens.c.version.desc()).limit(1)
        ).scalar()
    (workdir / "sectors").mkdir(exist_ok=True)
    urls = {}
    for sector in SECTORS:
        path = workdir / "sectors" / f"{sector}.sqlite"
        path.unlink(missing_ok=True)
        urls[sector] = f"sqlite:///{path.resolve()}"
        create_sector_schema(create_engine(urls[sector]))
    create_usage_schema(create_engine(npd))
    workers = [
        _start(
            settings,
            ["run", "router", "--group", f"{GROUP_PREFIX}{SECTOR_ROUTER}"],
            workdir / "router.log",
        )
    ]
    workers += [
        _start(
            settings,
            ["run", "sink", s, "--database-url", urls[s], "--group", GROUP_PREFIX + sink_group(s)],
            workdir / f"sink-{s}.log",
        )
        for s in SECTORS
    ]
    workers.append(
        _start(
            settings,
            ["run", "usage-recorder", "--database-url", npd, "--group", f"demo-usage-{run}"],
            workdir / "usage.log",
        )
    )
    counts: dict[str, int] = {}
    started = time.monotonic()
    try:
        while time.monotonic() - started < TIMEOUT:
            for sector, url in urls.items():
                with create_engine(url).connect() as conn:
                    counts[sector] = int(
                        conn.execute(select(func.count()).select_from(sector_citizens)).scalar()
                        or 0
                    )
            with create_engine(npd).connect() as conn:
                usage_rows = int(
                    conn.execute(
                        select(func.count())
                        .select_from(data_usage)
                        .where(data_usage.c.pin == busiest)
                    ).scalar()
                    or 0
                )
            if all(c >= expected for c in counts.values()) and usage_rows:
                break
            time.sleep(1)
        if while_running is not None:
            while_running()
    finally:
        for worker in workers:
            _stop(worker)
    table = Table("sector", "agency", "allowed fields", "database", "rows")
    for sector in SECTORS:
        table.add_row(
            sector,
            topology.sectors[sector].agency,
            str(len(topology.sectors[sector].allowed_fields)),
            f"sectors/{sector}.sqlite",
            f"{counts.get(sector, 0):,}",
        )
    console.print(table)
    with create_engine(npd).connect() as conn:
        releases = trail(conn, str(busiest))
    shown = f"{str(busiest)[:3]}******{str(busiest)[-3:]}"
    usage = Table(
        "released at",
        "sector",
        "version",
        "fields",
        title=f"usage trail of the citizen {shown} (synthetic), newest first: `databus usage PIN`",
    )
    for row in releases[:12]:
        usage.add_row(
            row["released_at"][:19],
            row["sector"],
            str(row["citizen_version"]),
            ", ".join(row["fields"]),
        )
    console.print(usage)
    return all(c >= expected for c in counts.values()) and bool(releases)
