"""The synthetic data generator: every record valid, families coherent, history replayable."""

from __future__ import annotations

import json
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cli.generate_cmd import generate as generate_command
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from producers.generator import GenerationReport, GeneratorConfig, generate
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.codec import event_from_data
from schemas.domain import SCHEME_CUTOVER, VN34_PROVINCES, VN63_PROVINCES, pin_issues, scheme_for
from schemas.models.citizen import Citizen

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = ROOT / "deploy" / "topology.yaml"
START = date(2024, 1, 1)
END = date(2025, 12, 31)  # spans the VN-63 -> VN-34 cutover of 1 July 2025
CITIZENS = 2000
CORRECTIONS = ("CORRECTED", "ANNULLED")

Json = dict[str, Any]


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(TOPOLOGY)


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, topology: Topology
) -> tuple[Path, GenerationReport]:
    out = tmp_path_factory.mktemp("generated")
    report = generate(
        GeneratorConfig(citizens=CITIZENS, out_dir=out, seed=6, start=START, end=END), topology
    )
    return out, report


@pytest.fixture(scope="module")
def out(run: tuple[Path, GenerationReport]) -> Path:
    return run[0]


def _lines(path: Path) -> Iterator[Json]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


@pytest.fixture(scope="module")
def events(out: Path) -> list[Json]:
    return list(_lines(out / "events.jsonl"))


@pytest.fixture(scope="module")
def citizens(out: Path) -> list[Json]:
    return list(_lines(out / "citizens.jsonl"))


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _full_name(name: Json) -> tuple[str, str | None, str]:
    return name["family_name"], name["middle_name"], name["given_name"]


def _citizen_name(citizen: Json) -> tuple[str, str | None, str]:
    return citizen["family_name"], citizen["middle_name"], citizen["given_name"]


# --- every record is valid -------------------------------------------------------------------


def test_every_event_line_validates_and_is_in_canonical_form(events: list[Json]) -> None:
    assert len(events) > CITIZENS * 5
    for number, data in enumerate(events, start=1):
        cls = EVENT_CLASSES[data["event_type"]]
        event = event_from_data(EVENT_DOMAINS[cls.domain], data, record=f"line {number}")
        assert event.model_dump(mode="json") == data, f"line {number}"


def test_every_citizen_line_validates_and_is_in_canonical_form(citizens: list[Json]) -> None:
    assert len(citizens) == CITIZENS
    for number, data in enumerate(citizens, start=1):
        assert Citizen.model_validate(data).model_dump(mode="json") == data, f"line {number}"


def test_every_event_type_and_change_type_appears(events: list[Json]) -> None:
    assert set(Counter(e["event_type"] for e in events)) == set(EVENT_CLASSES)
    assert set(Counter(e["change_type"] for e in events)) == {"CREATED", *CORRECTIONS}


# --- PINs, names, families --------------------------------------------------------------------


def test_pins_are_unique_and_agree_with_birth_date_and_sex(
    citizens: list[Json], events: list[Json]
) -> None:
    pins = [c["pin"] for c in citizens]
    assert len(set(pins)) == len(pins)
    for citizen in citizens:
        dob = date.fromisoformat(citizen["date_of_birth"])
        assert pin_issues(citizen["pin"], date_of_birth=dob, sex=citizen["sex"]) == []
        assert 1930 <= dob.year <= START.year
    births = [
        e["subject_pin"]
        for e in events
        if e["event_type"] == "BirthRegistered" and e["change_type"] == "CREATED"
    ]
    new_pins = [e["subject_pin"] for e in events if e["event_type"] == "PinReestablished"]
    assert len(set(births + new_pins)) == len(births) + len(new_pins)
    for event in events:
        if event["event_type"] == "PinReestablished":
            payload = event["payload"]
            dob = date.fromisoformat(payload["date_of_birth"])
            assert pin_issues(event["subject_pin"], date_of_birth=dob, sex=payload["sex"]) == []
            assert payload["old_pin"] != event["subject_pin"]
        if event["event_type"] == "IdentityCardIssued" and event["change_type"] == "CREATED":
            assert event["payload"]["card"]["number"] == event["subject_pin"]


def test_family_references_point_at_citizens_with_matching_names(citizens: list[Json]) -> None:
    by_pin = {c["pin"]: c for c in citizens}
    checked = Counter[str]()
    for citizen in citizens:
        for role in ("father", "mother", "spouse"):
            ref = citizen[role]
            if ref is None or ref["pin"] is None:
                continue
            other = by_pin[ref["pin"]]
            assert _citizen_name(other) == _full_name(ref["name"])
            checked[role] += 1
            if role == "spouse":
                assert other["spouse"]["pin"] == citizen["pin"]
                assert other["sex"] != citizen["sex"]
                assert citizen["marital_status"] == other["marital_status"] == "MARRIED"
            else:
                assert other["sex"] == ("MALE" if role == "father" else "FEMALE")
                assert other["date_of_birth"] < citizen["date_of_birth"]
                assert citizen["pin"] in {child["pin"] for child in other["children"]}
        for child in citizen["children"]:
            kid = by_pin[child["pin"]]
            assert _citizen_name(kid) == _full_name(child["name"])
            assert citizen["pin"] in {(kid["father"] or {}).get("pin"), kid["mother"]["pin"]}
            checked["children"] += 1
    # Families, not a crowd of strangers: most people have a parent or a spouse in the data.
    assert checked["father"] > CITIZENS / 5
    assert checked["mother"] > CITIZENS / 5
    assert checked["spouse"] > CITIZENS / 5
    assert checked["children"] > CITIZENS / 3


def test_households_have_one_head_and_known_relations(citizens: list[Json]) -> None:
    households: dict[str, list[Json]] = {}
    for citizen in citizens:
        assert citizen["permanent_residence"] is not None
        households.setdefault(citizen["household_id"], []).append(citizen)
    relations = {"CHU_HO", "VO", "CHONG", "CON", "CON_DAU", "CHAU"}
    for members in households.values():
        assert [m["relation_to_head"] for m in members].count("CHU_HO") == 1
        assert {m["relation_to_head"] for m in members} <= relations
        assert len({json.dumps(m["permanent_residence"]["unit"]) for m in members}) == 1
    sizes = Counter(len(m) for m in households.values())
    assert 2.0 < CITIZENS / len(households) < 5.0, sizes


def test_names_are_nfc_with_vietnamese_diacritics_and_realistic_frequencies(
    citizens: list[Json], events: list[Json]
) -> None:
    names = [_citizen_name(c) for c in citizens]
    names += [
        _full_name(e["payload"]["name"])
        for e in events
        if e["event_type"] in ("BirthRegistered", "CivilStatusChanged")
        and e["payload"]["name"] is not None
    ]
    for parts in names:
        for part in parts:
            if part is not None:
                assert part == unicodedata.normalize("NFC", part)
                assert part.strip() == part and part
    with_diacritics = sum(1 for parts in names if not " ".join(p or "" for p in parts).isascii())
    assert with_diacritics > 0.6 * len(names)
    family = Counter(c["family_name"] for c in citizens)
    assert 0.25 < family["Nguyễn"] / len(citizens) < 0.45
    assert {"Trần", "Lê", "Phạm"} <= {name for name, _ in family.most_common(8)}
    ethnic = Counter(c["ethnicity"] for c in citizens)
    assert 0.75 < ethnic["Kinh"] / len(citizens) < 0.95
    assert len(ethnic) >= 5
    ages = [START.year - int(c["date_of_birth"][:4]) for c in citizens]
    assert 0.12 < sum(a < 15 for a in ages) / len(ages) < 0.32
    assert 0.04 < sum(a >= 65 for a in ages) / len(ages) < 0.15


# --- the event history ------------------------------------------------------------------------


def test_events_are_sorted_by_recorded_at_and_never_in_the_future(events: list[Json]) -> None:
    now = datetime.now(UTC)
    latest = datetime(
        END.year, END.month, END.day, 23, 59, 59, tzinfo=_ts(events[0]["recorded_at"]).tzinfo
    )
    previous = _ts(events[0]["recorded_at"])
    for event in events:
        recorded, occurred = _ts(event["recorded_at"]), _ts(event["occurred_at"])
        assert recorded >= previous
        assert occurred <= recorded <= latest < now
        previous = recorded


def test_initial_history_precedes_the_period_and_life_events_fill_it(
    run: tuple[Path, GenerationReport], events: list[Json]
) -> None:
    _, report = run
    start = datetime(
        START.year, START.month, START.day, tzinfo=_ts(events[0]["recorded_at"]).tzinfo
    )
    initial = [e for e in events if _ts(e["recorded_at"]) < start]
    assert len(initial) == report.initial_events
    assert report.life_events == len(events) - len(initial)
    assert abs(report.life_events - 3.0 * CITIZENS) <= 0.02 * 3.0 * CITIZENS
    kinds = Counter(e["event_type"] for e in initial)
    assert kinds["BirthRegistered"] == kinds["PinIssued"] == CITIZENS
    assert kinds["PermanentResidenceRegistered"] == CITIZENS
    assert {e["change_type"] for e in initial} == {"CREATED"}


def test_every_subject_and_reference_exists_by_an_earlier_event(events: list[Json]) -> None:
    known: set[str] = set()
    for event in events:
        kind, subject, payload = event["event_type"], event["subject_pin"], event["payload"]
        if kind == "AdministrativeUnitsReorganized":
            assert subject is None
            continue
        if kind == "BirthRegistered" and event["change_type"] == "CREATED":
            assert subject not in known
            known.add(subject)
        elif kind == "PinReestablished":
            assert payload["old_pin"] in known
            known.add(subject)
        else:
            assert subject in known, kind
        for role in ("father", "mother", "spouse"):
            ref = payload.get(role)
            if ref is not None and ref["pin"] is not None:
                assert ref["pin"] in known, (kind, role)


def test_nothing_but_corrections_after_death_emigration_or_a_replaced_pin(
    events: list[Json],
) -> None:
    closed: dict[str, str] = {}
    for event in events:
        subject, kind, payload = event["subject_pin"], event["event_type"], event["payload"]
        created = event["change_type"] == "CREATED"
        if subject in closed:
            assert not created, (closed[subject], kind)
        if kind == "DeathRegistered" and created:
            closed[subject] = "dead"
        elif kind == "ResidenceDeregistered" and payload["reason"] == "SETTLED_ABROAD":
            closed[subject] = "emigrated"
        elif kind == "PinReestablished":
            closed[payload["old_pin"]] = "replaced"
    assert set(closed.values()) == {"dead", "emigrated", "replaced"}


def test_corrections_and_annulments_target_earlier_events_of_the_same_subject(
    events: list[Json],
) -> None:
    seen: dict[str, Json] = {}
    amended = Counter[str]()
    for event in events:
        target_id = event["corrects_event_id"]
        if event["change_type"] in CORRECTIONS:
            target = seen[target_id]
            assert target["event_type"] == event["event_type"]
            assert target["subject_pin"] == event["subject_pin"]
            assert target["recorded_at"] < event["recorded_at"]
            if event["change_type"] == "ANNULLED":
                assert event["payload"] == target["payload"]
            else:
                assert event["payload"] != target["payload"]
            amended[event["change_type"]] += 1
        else:
            assert target_id is None
        seen[event["event_id"]] = event
    assert len(seen) == len(events)
    assert amended["CORRECTED"] > 0 and amended["ANNULLED"] > 0


def _check_unit(unit: Json, day: date) -> None:
    assert unit["scheme"] == scheme_for(day)
    if unit["scheme"] == "VN-63":
        assert unit["province_code"] in VN63_PROVINCES
        assert len(unit["district_code"]) == 3
    else:
        assert unit["province_code"] in VN34_PROVINCES
        assert unit["district_code"] is None
    assert len(unit["commune_code"]) == 5


def test_units_use_the_scheme_in_force_on_their_date(
    events: list[Json], citizens: list[Json]
) -> None:
    schemes = Counter[str]()
    for event in events:
        payload = event["payload"]
        kind = event["event_type"]
        if kind == "BirthRegistered":
            day = _ts(event["occurred_at"]).date()
            _check_unit(payload["place_of_birth_registration"], day)
            after = day >= SCHEME_CUTOVER
            province = payload["place_of_birth_registration"]["province_code"]
            assert event["subject_pin"][:3] == "0" + province, "PIN place = registration province"
            schemes[f"birth {'after' if after else 'before'}"] += 1
        elif kind in ("PermanentResidenceRegistered", "TemporaryResidenceRegistered"):
            _check_unit(payload["address"]["unit"], date.fromisoformat(payload["registered_on"]))
            schemes[payload["address"]["unit"]["scheme"]] += 1
        elif kind == "MarriageRegistered":
            _check_unit(payload["registered_at"], date.fromisoformat(payload["married_on"]))
    assert schemes["VN-63"] and schemes["VN-34"] and schemes["birth after"]
    for citizen in citizens:
        _check_unit(
            citizen["place_of_birth_registration"], date.fromisoformat(citizen["date_of_birth"])
        )


def test_source_files_split_the_history_by_the_topology(
    out: Path, events: list[Json], topology: Topology
) -> None:
    split: list[Json] = []
    for name, source in topology.sources.items():
        part = list(_lines(out / f"events.{name}.jsonl"))
        recorded = [e["recorded_at"] for e in part]
        assert recorded == sorted(recorded)
        for event in part:
            assert event["event_type"] in source.event_types
            assert event["source"] == source.agency
        split.extend(part)
    assert sorted(e["event_id"] for e in split) == sorted(e["event_id"] for e in events)
    for event in events:
        assert (
            event["source"]
            == topology.sources[topology.source_of_event_type(event["event_type"])].agency
        )
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 6
    assert manifest["files"]["events.jsonl"] == len(events)
    assert manifest["files"]["citizens.jsonl"] == CITIZENS
    assert sum(manifest["event_types"].values()) == len(events)
    assert {k: v["events"] for k, v in manifest["sources"].items()} == {
        name: sum(1 for e in events if e["source"] == s.agency)
        for name, s in topology.sources.items()
    }


def _apply(record: Json, event: Json) -> None:
    """Apply one initial-history event to a citizen record (the NPD's obvious semantics)."""
    payload = event["payload"]
    kind = event["event_type"]
    if kind == "MarriageRegistered":
        record["spouse"], record["marital_status"] = payload["spouse"], "MARRIED"
    elif kind == "MarriageDissolved":
        record["spouse"] = None
        record["marital_status"] = {"SPOUSE_DECEASED": "WIDOWED", "DIVORCE": "DIVORCED"}.get(
            payload["reason"], "SINGLE"
        )
    elif kind == "PermanentResidenceRegistered":
        record["permanent_residence"] = payload["address"]
        record["household_id"] = payload["household_id"]
        record["relation_to_head"] = payload["relation_to_head"]
    elif kind == "IdentityCardIssued":
        record["identity_card"] = payload["card"]


def test_replaying_the_initial_history_rebuilds_citizens_jsonl(
    events: list[Json], citizens: list[Json]
) -> None:
    start = START.isoformat()
    rebuilt: dict[str, Json] = {}
    for event in events:
        if event["recorded_at"][:10] >= start:
            break
        pin, payload = event["subject_pin"], event["payload"]
        if event["event_type"] == "BirthRegistered":
            name = payload["name"]
            rebuilt[pin] = {
                **dict.fromkeys(Citizen.model_fields),
                "pin": pin,
                "pin_history": [],
                "family_name": name["family_name"],
                "middle_name": name["middle_name"],
                "given_name": name["given_name"],
                "other_names": [],
                "children": [],
                "marital_status": "SINGLE",
                **{
                    key: payload[key]
                    for key in (
                        "date_of_birth",
                        "sex",
                        "place_of_birth",
                        "place_of_birth_registration",
                        "hometown",
                        "ethnicity",
                        "nationalities",
                        "father",
                        "mother",
                    )
                },
            }
            for role in ("father", "mother"):
                parent = payload[role]
                if parent is not None and parent["pin"] is not None:
                    rebuilt[parent["pin"]]["children"].append({"pin": pin, "name": name})
        elif pin is not None:
            _apply(rebuilt[pin], event)
    assert rebuilt == {c["pin"]: c for c in citizens}


# --- determinism, CLI, speed ------------------------------------------------------------------


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_does_not(
    tmp_path: Path, topology: Topology
) -> None:
    def once(name: str, seed: int) -> dict[str, bytes]:
        config = GeneratorConfig(
            citizens=300, out_dir=tmp_path / name, seed=seed, start=START, end=END
        )
        generate(config, topology)
        return _files(tmp_path / name)

    first, again, other = once("a", 11), once("b", 11), once("c", 12)
    assert set(first) == {
        "citizens.jsonl",
        "events.jsonl",
        "events.civil-status.jsonl",
        "events.residence.jsonl",
        "events.identity.jsonl",
        "events.reference.jsonl",
        "manifest.json",
    }
    assert first == again
    assert first["events.jsonl"] != other["events.jsonl"]
    assert first["citizens.jsonl"] != other["citizens.jsonl"]


def _cli() -> click.Group:
    @click.group()
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        ctx.obj = Settings(topology=TOPOLOGY)

    cli.add_command(generate_command)
    return cli


def test_cli_generates_files_and_a_json_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["generate", "--citizens", "150", "--out", str(out), "--seed", "3"]
    args += ["--start", "2024-06-01", "--end", "2025-08-31", "--events-per-citizen", "2"]
    result = CliRunner().invoke(_cli(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["ok"] is True
    assert summary["citizens"] == 150
    assert summary["files"]["events.jsonl"] == summary["events"]
    assert sum(summary["sources"].values()) == summary["events"]
    assert (out / "citizens.jsonl").read_text(encoding="utf-8").count("\n") == 150
    # Human output: counts only, no personal values.
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert "150 citizens" in result.output
    assert "BirthRegistered" in result.output and "events.residence.jsonl" in result.output
    for citizen in _lines(out / "citizens.jsonl"):
        assert citizen["pin"] not in result.output
        assert citizen["given_name"] not in result.output.split()


def test_cli_refuses_future_or_impossible_periods(tmp_path: Path) -> None:
    base = ["generate", "--citizens", "10", "--out", str(tmp_path / "x"), "--json"]
    future = CliRunner().invoke(_cli(), [*base, "--end", "2999-01-01"])
    assert future.exit_code == 1
    assert "future" in json.loads(future.output)["problems"][0]
    early = CliRunner().invoke(_cli(), [*base, "--start", "2010-01-01", "--end", "2020-01-01"])
    assert early.exit_code == 1
    backwards = CliRunner().invoke(_cli(), [*base, "--start", "2024-01-01", "--end", "2023-01-01"])
    assert backwards.exit_code == 1
    assert CliRunner().invoke(_cli(), ["generate", "--out", str(tmp_path)]).exit_code == 2


def test_generation_rate_on_20000_citizens(tmp_path: Path, topology: Topology) -> None:
    config = GeneratorConfig(citizens=20_000, out_dir=tmp_path, seed=1, start=START, end=END)
    began = time.perf_counter()
    report = generate(config, topology)
    seconds = time.perf_counter() - began
    rate = report.events / seconds
    print(
        f"\ngenerator: {report.citizens} citizens, {report.events} events in {seconds:.2f} s: "
        f"{report.citizens / seconds:,.0f} citizens/s, {rate:,.0f} events/s"
    )
    assert rate > 5_000, f"{rate:,.0f} events/s"
