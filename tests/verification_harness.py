"""Test helpers for verification: a population database filled directly, a campaign with known
alterations and the answer each record must get, the verifier as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine

from databus.population.schema import create_population_schema
from databus.settings import Settings
from databus.topology.loader import load_topology
from producers.generator import GeneratorConfig, generate
from producers.generator.writer import CITIZENS_FILE
from schemas.domain import make_pin
from streams.verification.answers import create_answers_schema
from tests.population_harness import PROJECT_ROOT, worker_env

SECTOR = "mobile-subscribers"
ALTERATIONS = (
    "exact",
    "no_diacritics",
    "uppercase",
    "name_typo",
    "wrong_birth_date",
    "unknown_pin",
    "deceased",
    "pin_reestablished",
    "malformed_pin",
    "wrong_sex",
)
NAMES = ("family_name", "middle_name", "given_name")


def generated_citizens(count: int, workdir: Path, seed: int = 13) -> list[dict[str, Any]]:
    """`count` generated citizens (their JSON form), without life events."""
    out = workdir / f"citizens-{count}-{seed}"
    generate(
        GeneratorConfig(
            citizens=count,
            out_dir=out,
            seed=seed,
            events_per_citizen=0,
            start=date(2024, 1, 1),
            end=date(2026, 11, 20),
        ),
        load_topology(PROJECT_ROOT / "deploy" / "topology.yaml"),
    )
    with (out / CITIZENS_FILE).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@dataclass
class Expected:
    """What one record of the campaign must get back."""

    record: dict[str, str]
    """The line submitted (record_id, pin, claims)."""
    alteration: str
    status: str
    verdicts: dict[str, str]
    problems: list[tuple[str, str]]
    subject: dict[str, Any] | None
    """The NPD record the claimed PIN leads to (for the no-leak check), if any."""


def _strip(text: str) -> str:
    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in bare if not unicodedata.combining(c)))


def _typo(name: str) -> str:
    last = name[-1]
    return name[:-1] + ("q" if last.lower() != "q" else "z")


def _claims(citizen: dict[str, Any]) -> dict[str, str]:
    claims = {name: citizen[name] for name in NAMES if citizen.get(name)}
    claims["date_of_birth"] = citizen["date_of_birth"]
    claims["sex"] = citizen["sex"]
    card = citizen.get("identity_card")
    if card:
        claims["identity_card_number"] = card["number"]
    return claims


def _new_pin(old: str, taken: set[str]) -> str:
    serial = int(old[6:])
    while True:
        serial = (serial + 7_919) % 1_000_000
        pin = old[:6] + f"{serial:06d}"
        if pin not in taken:
            taken.add(pin)
            return pin


@dataclass
class Campaign:
    """The population database content and the records with their expected answers."""

    rows: list[dict[str, Any]]
    """Citizens table rows to load (pin, version, record, deceased)."""
    links: list[tuple[str, str]]
    """Re-established PINs (old, new)."""
    expected: list[Expected]


def build_campaign(citizens: list[dict[str, Any]], count: int) -> Campaign:
    """`count` records over `citizens`, the alteration of record i being ALTERATIONS[i % 10]."""
    taken = {c["pin"] for c in citizens}
    rows: list[dict[str, Any]] = []
    links: list[tuple[str, str]] = []
    expected: list[Expected] = []
    for i in range(count):
        citizen = dict(citizens[i % len(citizens)])
        kind = ALTERATIONS[i % len(ALTERATIONS)]
        claims = _claims(citizen)
        match = dict.fromkeys(claims, "MATCH")
        pin = citizen["pin"]
        status, verdicts, problems = "MATCHED", match, []
        subject: dict[str, Any] | None = citizen
        deceased = False
        if i >= len(citizens):  # a second record for the same citizen: another copy of it
            pin = _new_pin(pin, taken)
            citizen = {**citizen, "pin": pin}
            if citizen.get("identity_card"):
                citizen["identity_card"] = {**citizen["identity_card"], "number": pin}
            claims = _claims(citizen)
            subject = citizen
        if kind == "no_diacritics":
            for name in NAMES:
                if name in claims:
                    claims[name] = _strip(claims[name])
                    if not citizen[name].isascii():
                        verdicts[name] = "MATCH_IGNORING_DIACRITICS"
            if "MATCH_IGNORING_DIACRITICS" in verdicts.values():
                status = "PARTIAL"
        elif kind == "uppercase":
            for name in NAMES:
                if name in claims:
                    claims[name] = claims[name].upper()
        elif kind == "name_typo":
            claims["given_name"] = _typo(claims["given_name"])
            verdicts["given_name"], status = "MISMATCH", "MISMATCHED"
        elif kind == "wrong_birth_date":
            born = date.fromisoformat(claims["date_of_birth"])
            shifted = born - timedelta(days=1) if born.day > 1 else born + timedelta(days=1)
            claims["date_of_birth"] = shifted.isoformat()
            verdicts["date_of_birth"], status = "MISMATCH", "MISMATCHED"
        elif kind == "wrong_sex":
            claims["sex"] = "MALE" if claims["sex"] == "FEMALE" else "FEMALE"
            verdicts["sex"], status = "MISMATCH", "MISMATCHED"
        elif kind == "deceased":
            deceased = True
            citizen["date_of_death"] = "2026-06-01"
            status = "DECEASED"
        elif kind == "unknown_pin":
            claims_pin = make_pin(
                pin[:3], date.fromisoformat(citizen["date_of_birth"]), citizen["sex"], 0
            )
            claims_pin = _new_pin(claims_pin, taken)
            expected.append(
                Expected(
                    {"record_id": f"sub-{i}", "pin": claims_pin, **claims},
                    kind,
                    "NOT_FOUND",
                    dict.fromkeys(claims, "NOT_CHECKED"),
                    [],
                    None,
                )
            )
            rows.append(_row(citizen, deceased))
            continue
        elif kind == "pin_reestablished":
            new = _new_pin(pin, taken)
            moved = {**citizen, "pin": new}
            links.append((pin, new))
            rows.append(_row(moved, False))
            expected.append(
                Expected(
                    {"record_id": f"sub-{i}", "pin": pin, **claims},
                    kind,
                    "PIN_REPLACED",
                    dict.fromkeys(claims, "NOT_CHECKED"),
                    [],
                    moved,
                )
            )
            continue
        elif kind == "malformed_pin":
            expected.append(
                Expected(
                    {"record_id": f"sub-{i}", "pin": "999" + pin[3:], **claims},
                    kind,
                    "INVALID",
                    dict.fromkeys(claims, "NOT_CHECKED"),
                    [("pin", "pin.place_code")],
                    None,
                )
            )
            rows.append(_row(citizen, deceased))
            continue
        rows.append(_row(citizen, deceased))
        expected.append(
            Expected(
                {"record_id": f"sub-{i}", "pin": pin, **claims},
                kind,
                status,
                verdicts,
                problems,
                citizen if subject is not None else None,
            )
        )
    return Campaign(rows, links, expected)


def _row(citizen: dict[str, Any], deceased: bool) -> dict[str, Any]:
    return {"pin": citizen["pin"], "version": 1, "record": citizen, "deceased": deceased}


def load_population(url: str, campaign: Campaign) -> None:
    """Create the NPD schema and COPY the campaign's citizens and PIN links into it."""
    engine = create_engine(url)
    create_population_schema(engine)
    create_answers_schema(engine)
    engine.dispose()
    now = datetime.now(UTC)
    seen: set[str] = set()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY citizens (pin, version, record, field_times, deceased, updated_at) FROM STDIN"
            ) as copy,
        ):
            for row in campaign.rows:
                if row["pin"] in seen:
                    continue
                seen.add(row["pin"])
                record = json.dumps(row["record"], ensure_ascii=False)
                copy.write_row((row["pin"], row["version"], record, "{}", row["deceased"], now))
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY pin_links (old_pin, new_pin, event_id, linked_at) FROM STDIN"
            ) as copy,
        ):
            for old, new in campaign.links:
                copy.write_row((old, new, "", now))
        conn.commit()
        conn.execute("ANALYZE citizens")
        conn.commit()


def write_requests(path: Path, expected: list[Expected]) -> None:
    """The campaign as a JSON Lines requests file."""
    with path.open("w", encoding="utf-8") as out:
        for item in expected:
            out.write(json.dumps(item.record, ensure_ascii=False) + "\n")


def start_verifier(
    settings: Settings, database_url: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """`databus run verifier` in its own process group, logging to `log`."""
    handle = log.open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "verifier",
            "--database-url",
            database_url,
            "--group",
            f"{settings.topic_prefix}verifier",
            *extra,
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def leaf_strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from leaf_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaf_strings(item)
