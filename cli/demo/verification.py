"""Demo step: a mobile operator verifies its subscriber file against the population database.

The subscriber file is built from the demo population with junk in it (unknown PINs, wrong
names, deceased holders, names without diacritics, a malformed PIN); `databus verify submit`
sends it, `databus run verifier` answers from the population database, and
`databus verify results` prints the summary and the subscriptions to suspend.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from cli.demo.population import _start, _stop
from cli.output import console
from databus.settings import Settings

SECTOR = "mobile-subscribers"
COLUMNS = ("record_id", "pin", "family_name", "middle_name", "given_name", "date_of_birth", "sex")
TIMEOUT = 120.0


def _bare(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def subscriber_rows(citizens: list[tuple[dict[str, Any], bool]]) -> list[dict[str, str]]:
    """An operator's subscriber file: mostly right, some junk of every kind."""
    rows: list[dict[str, str]] = []
    for i, (record, deceased) in enumerate(citizens):
        row = {c: str(record.get(c) or "") for c in COLUMNS if c != "record_id"}
        row["record_id"] = f"SIM-{i:05d}"
        kind = i % 8
        if kind == 1:
            for name in ("family_name", "middle_name", "given_name"):
                row[name] = _bare(row[name])
        elif kind == 2:
            row["given_name"] = row["given_name"][:-1] + "x"
        elif kind == 3 and not deceased:
            row["pin"] = row["pin"][:6] + f"{(int(row['pin'][6:]) + 500_009) % 1_000_000:06d}"
        elif kind == 4:
            row["pin"] = row["pin"][:11]
        rows.append(row)
    return rows


def show_verification(settings: Settings, workdir: Path) -> bool:
    """Build the subscriber file, run the verifier, submit, print the campaign's summary."""
    from databus.population.schema import citizens

    folder = workdir / "verification"
    folder.mkdir(exist_ok=True)
    npd = f"sqlite:///{(workdir / 'npd.sqlite').resolve()}"
    with create_engine(npd).connect() as conn:
        found = conn.execute(
            select(citizens.c.record, citizens.c.deceased).order_by(citizens.c.pin).limit(60)
        ).all()
        dead = conn.execute(
            select(citizens.c.record, citizens.c.deceased).where(citizens.c.deceased).limit(5)
        ).all()
    held = [(dict(r.record), bool(r.deceased)) for r in [*found, *dead]]
    rows = subscriber_rows(held)
    subscribers = folder / "subscribers.csv"
    with subscribers.open("w", encoding="utf-8", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=COLUMNS)
        out.writeheader()
        out.writerows(rows)
    console.print(
        f"subscriber file: {len(rows)} subscriptions ({len(dead)} of deceased holders, "
        f"junk of every kind) in {subscribers}"
    )
    run = int(time.time())
    verifier = _start(
        settings,
        ["run", "verifier", "--database-url", npd, "--sector", SECTOR, "--group", f"demo-{run}"],
        folder / "verifier.log",
    )
    campaign = f"demo-{run}"
    try:
        sent = _cli(
            settings,
            "verify",
            "submit",
            "--sector",
            SECTOR,
            str(subscribers),
            "--campaign",
            campaign,
            "--json",
        )
        if sent.returncode != 0:
            console.print(sent.stdout + sent.stderr, markup=False)
            return False
        console.print(f"submitted: {json.loads(sent.stdout)['delivered']} requests delivered")
        report = folder / "report.csv"
        done = _cli(
            settings,
            "verify",
            "results",
            "--sector",
            SECTOR,
            "--requests",
            str(subscribers),
            "--campaign",
            campaign,
            "--out",
            str(report),
            "--wait",
            str(TIMEOUT),
        )
    finally:
        _stop(verifier)
    console.print(done.stdout, markup=False, highlight=False, end="")
    console.print(
        "answers carry per-field verdicts, never a value of the population database "
        "(docs/verification.md)"
    )
    return done.returncode == 0


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    endpoints = settings.endpoints
    env = {
        **os.environ,
        "DATABUS_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "DATABUS_REGISTRY_URL": endpoints.registry_url,
        "DATABUS_TOPIC_PREFIX": settings.topic_prefix,
        "DATABUS_TOPOLOGY": str(settings.topology),
        "COLUMNS": "110",
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 60,
        check=False,
    )
