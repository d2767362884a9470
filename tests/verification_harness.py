"""Test helpers for verification: a population database filled directly, a campaign with known
alterations and the answer each record must get, the verifier as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from streams.verification.answers import create_answers_schema
from tests.population_harness import PROJECT_ROOT, start_database_worker, worker_env

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


@dataclass
class _Case:
    """One record being built: what is claimed, what the NPD holds, what must come back."""

    citizen: dict[str, Any]
    claims: dict[str, str]
    pin: str
    status: str = "MATCHED"
    verdicts: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    deceased: bool = False
    link: tuple[str, str] | None = None
    subject: dict[str, Any] | None = None


def _mismatch(case: _Case, name: str) -> None:
    case.verdicts[name], case.status = "MISMATCH", "MISMATCHED"


def _unchecked(case: _Case, status: str) -> None:
    case.status, case.verdicts = status, dict.fromkeys(case.claims, "NOT_CHECKED")


def _alter(kind: str, case: _Case, taken: set[str]) -> None:
    claims = case.claims
    if kind == "no_diacritics":
        for name in NAMES:
            if name in claims:
                claims[name] = _strip(claims[name])
                if not case.citizen[name].isascii():
                    case.verdicts[name], case.status = "MATCH_IGNORING_DIACRITICS", "PARTIAL"
    elif kind == "uppercase":
        for name in NAMES:
            if name in claims:
                claims[name] = claims[name].upper()
    elif kind == "name_typo":
        claims["given_name"] = _typo(claims["given_name"])
        _mismatch(case, "given_name")
    elif kind == "wrong_birth_date":
        born = date.fromisoformat(claims["date_of_birth"])
        shifted = born - timedelta(days=1) if born.day > 1 else born + timedelta(days=1)
        claims["date_of_birth"] = shifted.isoformat()
        _mismatch(case, "date_of_birth")
    elif kind == "wrong_sex":
        claims["sex"] = "MALE" if claims["sex"] == "FEMALE" else "FEMALE"
        _mismatch(case, "sex")
    elif kind == "deceased":
        case.deceased, case.status = True, "DECEASED"
        case.citizen["date_of_death"] = "2026-06-01"
    elif kind == "unknown_pin":
        case.pin, case.subject = _new_pin(case.pin, taken), None
        _unchecked(case, "NOT_FOUND")
    elif kind == "pin_reestablished":
        new = _new_pin(case.pin, taken)
        case.citizen = {**case.citizen, "pin": new}
        case.subject, case.link = case.citizen, (case.pin, new)
        _unchecked(case, "PIN_REPLACED")
    elif kind == "malformed_pin":
        case.pin, case.subject = "999" + case.pin[3:], None
        case.problems = [("pin", "pin.place_code")]
        _unchecked(case, "INVALID")


def build_campaign(citizens: list[dict[str, Any]], count: int) -> Campaign:
    """`count` records over `citizens`, the alteration of record i being ALTERATIONS[i % 10];
    beyond len(citizens), records are copies of citizens under new PINs."""
    taken = {c["pin"] for c in citizens}
    campaign = Campaign([], [], [])
    for i in range(count):
        citizen = dict(citizens[i % len(citizens)])
        if i >= len(citizens):
            pin = _new_pin(citizen["pin"], taken)
            citizen["pin"] = pin
            if citizen.get("identity_card"):
                citizen["identity_card"] = {**citizen["identity_card"], "number": pin}
        claims = _claims(citizen)
        kind = ALTERATIONS[i % len(ALTERATIONS)]
        case = _Case(citizen, claims, citizen["pin"], verdicts=dict.fromkeys(claims, "MATCH"))
        case.subject = citizen
        _alter(kind, case, taken)
        campaign.rows.append(_row(case.citizen, case.deceased))
        if case.link:
            campaign.links.append(case.link)
        campaign.expected.append(
            Expected(
                {"record_id": f"sub-{i}", "pin": case.pin, **case.claims},
                kind,
                case.status,
                case.verdicts,
                case.problems,
                case.subject,
            )
        )
    return campaign


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
    return start_database_worker(settings, "verifier", database_url, log, *extra)


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


def fresh_bus(bootstrap: str, registry_url: str, stack_dir: Path) -> Settings:
    """Settings with a topic prefix of their own, every topic created, every schema registered
    (for module-scoped fixtures, which cannot use `bus_ready`)."""
    import uuid

    from databus.contracts import bindings
    from databus.kafka_admin import apply_topics
    from databus.schema_admin import RegistryAdmin, register_all
    from databus.topology.topics import Topics
    from schemas.avro_files import AVRO_DIR

    settings = Settings(
        bootstrap_servers=bootstrap,
        registry_url=registry_url,
        topology=PROJECT_ROOT / "deploy" / "topology.yaml",
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        stack_dir=stack_dir,
    )
    topics = Topics.from_settings(settings)
    apply_topics(bootstrap, topics.specs())
    register_all(RegistryAdmin(registry_url), bindings(topics), AVRO_DIR)
    return settings


def start_usage_recorder(
    settings: Settings, database_url: str, log: Path
) -> subprocess.Popen[bytes]:
    """`databus run usage-recorder` into `database_url`, in its own process group."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "usage-recorder",
            "--database-url",
            database_url,
            "--group",
            f"{settings.topic_prefix}data-usage",
        ],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def run_cli(
    settings: Settings, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`databus ARGS` in a child process pointed at `settings`."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_results(settings: Settings, sector: str) -> list[tuple[bytes, Any]]:
    """Every (raw value, VerificationResult) on a sector's results topic."""
    from databus.registry import registry_client
    from databus.serde import Decoder
    from databus.topic_reader import read_all
    from databus.topology.topics import Topics
    from schemas.models.downstream import VerificationResult

    endpoints = settings.endpoints
    topic = Topics.from_settings(settings).verification_results_topic(sector)
    decoder = Decoder(registry_client(endpoints.registry_url), topic, VerificationResult)
    out: list[tuple[bytes, Any]] = []
    for message in read_all(endpoints.bootstrap_servers, topic):
        value = message.value() or b""
        out.append((value, decoder.decode(value)))
    return out
