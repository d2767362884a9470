"""The topology: the shipped file loads, bad files fail with one clear problem per mistake, and
the derived topics are right. Fast: no services."""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli.topics_cmd import topics as topics_cli
from databus.settings import Settings
from databus.topology import (
    TopicRole,
    Topics,
    Topology,
    TopologyError,
    derive_topics,
    load_topology,
    parse_topology,
)
from schemas.event_types import EVENT_TYPE_NAMES, EVENT_TYPES
from schemas.fields import CITIZEN_FIELD_NAMES, CITIZEN_FIELDS, SENSITIVITIES

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "deploy" / "topology.yaml"

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def shipped() -> Topology:
    return load_topology(TOPOLOGY)


@pytest.fixture
def doc() -> Doc:
    """The shipped topology as plain data, to break in one place per test."""
    data: Doc = yaml.safe_load(TOPOLOGY.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def problems_of(data: Doc | str) -> list[str]:
    """Parse a (broken) topology and return its problems as `path: message` lines."""
    text = (
        data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    with pytest.raises(TopologyError) as info:
        parse_topology(text)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


# ---------------------------------------------------------------- schemas vocabulary


def test_citizen_fields_are_unique_and_classified() -> None:
    names = [f.name for f in CITIZEN_FIELDS]
    assert len(names) == len(set(names)) == len(CITIZEN_FIELD_NAMES)
    assert {f.sensitivity for f in CITIZEN_FIELDS} <= set(SENSITIVITIES)
    assert {"pin", "pin_history", "date_of_death", "mobile_number"} <= CITIZEN_FIELD_NAMES


def test_event_types_are_unique() -> None:
    assert len({e.name for e in EVENT_TYPES}) == len(EVENT_TYPES) == 13


def test_schemas_import_nothing_of_ours() -> None:
    ours = ("databus", "producers", "streams", "consumers")
    for path in (REPO / "schemas").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                assert not module.startswith(ours), f"{path.name} imports {module}"


# ---------------------------------------------------------------- the shipped topology


def test_shipped_topology_loads(shipped: Topology) -> None:
    assert set(shipped.sources) >= {"civil-status", "residence", "identity", "reference"}
    assert set(shipped.sectors) == {"social-insurance", "tax", "mobile-subscribers", "health"}
    assert shipped.population.agency == "VN/GOV/BCA/dancu"
    assert {"local", "production"} <= set(shipped.topic_defaults)
    local = shipped.topic_defaults["local"]
    assert (local.replication_factor, local.min_insync_replicas) == (1, 1)


def test_every_event_type_has_exactly_one_source(shipped: Topology) -> None:
    published = [e for s in shipped.sources.values() for e in s.event_types]
    assert sorted(published) == sorted(EVENT_TYPE_NAMES)
    assert shipped.source_of_event_type("DeathRegistered") == "civil-status"
    assert shipped.authority_for("permanent_residence") == "residence"
    assert shipped.authority_for("pin") == "identity"


def test_every_sector_has_a_legal_basis_and_no_database_url(shipped: Topology) -> None:
    for sector in shipped.sectors.values():
        assert sector.legal_basis
        assert all(b.instrument and b.article for b in sector.legal_basis)
        assert "://" not in sector.database_url_env


def test_every_flow_is_monitored(shipped: Topology) -> None:
    for name in shipped.sources:
        assert shipped.connections_of_source(name)
    for name in shipped.sectors:
        assert shipped.connections_of_sector(name)


# ---------------------------------------------------------------- bad topologies


def test_unknown_field_in_a_sector(doc: Doc) -> None:
    doc["sectors"]["tax"]["allowed_fields"][2] = "salary"
    assert problems_of(doc) == ["sectors.tax.allowed_fields[2]: unknown citizen field 'salary'"]


def test_misspelt_field_gets_a_suggestion(doc: Doc) -> None:
    doc["sectors"]["health"]["allowed_fields"].append("date_of_brith")
    [problem] = problems_of(doc)
    assert problem.startswith("sectors.health.allowed_fields[15]: unknown citizen field")
    assert "did you mean 'date_of_birth'" in problem


@pytest.mark.parametrize(
    "breakage",
    [
        lambda sector: sector.pop("legal_basis"),
        lambda sector: sector.update(legal_basis=[]),
    ],
    ids=["missing", "empty"],
)
def test_sector_without_legal_basis(doc: Doc, breakage: Callable[[Doc], object]) -> None:
    breakage(doc["sectors"]["health"])
    [problem] = problems_of(doc)
    assert problem.startswith("sectors.health.legal_basis: a sector needs a legal basis")


def test_legal_basis_needs_an_article(doc: Doc) -> None:
    del doc["sectors"]["tax"]["legal_basis"][0]["article"]
    assert problems_of(doc) == ["sectors.tax.legal_basis[0].article: required key is missing"]


def test_duplicate_agency(doc: Doc) -> None:
    doc["agencies"].append({"id": "VN/GOV/BTP/hotich", "name": "again"})
    index = len(doc["agencies"]) - 1
    assert problems_of(doc) == [
        f"agencies[{index}].id: duplicate agency 'VN/GOV/BTP/hotich' "
        "(first declared at agencies[0])"
    ]


def test_unknown_agency_references(doc: Doc) -> None:
    doc["sectors"]["tax"]["agency"] = "VN/GOV/BTC/nowhere"
    doc["connections"]["population-to-tax"]["owners"]["to"] = "VN/GOV/BTC/nowhere"
    assert problems_of(doc) == [
        "sectors.tax.agency: unknown agency 'VN/GOV/BTC/nowhere' (declare it under agencies)",
        "connections.population-to-tax.owners.to: unknown agency 'VN/GOV/BTC/nowhere' "
        "(declare it under agencies)",
    ]


def test_malformed_agency_id(doc: Doc) -> None:
    doc["agencies"][0]["id"] = "justice"
    problems = problems_of(doc)
    assert problems[0].startswith(
        "agencies[0].id: agency id 'justice' must look like VN/GOV/<MEMBER>/<subsystem>"
    )


def test_unknown_event_type(doc: Doc) -> None:
    doc["sources"]["identity"]["event_types"].append("PassportIssued")
    assert problems_of(doc) == [
        "sources.identity.event_types[3]: unknown event type 'PassportIssued' "
        "(not in schemas/event_types.py)"
    ]


def test_event_type_published_twice(doc: Doc) -> None:
    doc["sources"]["residence"]["event_types"].append("BirthRegistered")
    assert problems_of(doc) == [
        "sources.residence.event_types[4]: event type 'BirthRegistered' is already published "
        "by source 'civil-status'"
    ]


def test_unknown_authoritative_field(doc: Doc) -> None:
    doc["sources"]["residence"]["authoritative_for"][0] = "address"
    assert problems_of(doc) == [
        "sources.residence.authoritative_for[0]: unknown citizen field 'address'"
    ]


def test_field_with_two_authorities(doc: Doc) -> None:
    doc["sources"]["identity"]["authoritative_for"].append("sex")
    assert problems_of(doc) == [
        "sources.identity.authoritative_for[4]: field 'sex' already has an authoritative "
        "source: 'civil-status'"
    ]


def test_url_instead_of_env_var_name_is_refused_without_echoing_it(doc: Doc) -> None:
    doc["sectors"]["tax"]["database_url_env"] = "postgresql://user:secret@db/tax"
    [problem] = problems_of(doc)
    assert problem.startswith("sectors.tax.database_url_env: must be the NAME of an environment")
    assert "secret" not in problem


def test_unknown_key_and_bad_on_deceased(doc: Doc) -> None:
    doc["sectors"]["tax"]["colour"] = "red"
    doc["sectors"]["tax"]["on_deceased"] = "forget"
    problems = problems_of(doc)
    assert "sectors.tax.colour: unknown key 'colour'" in problems
    assert any(p.startswith("sectors.tax.on_deceased: ") and "'forget'" in p for p in problems)


def test_connection_to_unknown_sector_and_uncovered_sector(doc: Doc) -> None:
    doc["connections"]["population-to-tax"]["to"] = "sector:taxes"
    assert problems_of(doc) == [
        "connections.population-to-tax.to: unknown sector 'taxes'",
        "connections: no connection delivers to sector 'tax'",
    ]


def test_connection_owner_must_be_the_endpoint_agency(doc: Doc) -> None:
    doc["connections"]["residence-to-population"]["owners"]["from"] = "VN/GOV/BTP/hotich"
    assert problems_of(doc) == [
        "connections.residence-to-population.owners.from: 'VN/GOV/BTP/hotich' is not the "
        "agency of source 'residence' ('VN/GOV/BCA/cutru')"
    ]


def test_min_isr_above_replication(doc: Doc) -> None:
    doc["topic_defaults"]["local"]["min_insync_replicas"] = 2
    [problem] = problems_of(doc)
    assert problem.startswith(
        "topic_defaults.local: min_insync_replicas (2) exceeds replication_factor (1)"
    )


def test_every_problem_is_reported_at_once(doc: Doc) -> None:
    doc["sectors"]["tax"]["allowed_fields"][2] = "salary"
    del doc["sectors"]["health"]["legal_basis"]
    doc["agencies"].append(dict(doc["agencies"][1]))
    doc["sources"]["identity"]["event_types"].append("PassportIssued")
    doc["sources"]["residence"]["agency"] = "VN/GOV/BCA/nowhere"
    paths = [p.split(": ")[0] for p in problems_of(doc)]
    assert sorted(paths) == sorted(
        [
            "sectors.tax.allowed_fields[2]",
            "sectors.health.legal_basis",
            f"agencies[{len(doc['agencies']) - 1}].id",
            "sources.identity.event_types[3]",
            "sources.residence.agency",
        ]
    )


def test_yaml_syntax_error_names_the_line() -> None:
    [problem] = problems_of("population:\n  agency: [VN/GOV/BCA/dancu\nagencies: []\n")
    assert problem.startswith(": YAML syntax error at line 3")


def test_key_given_twice_is_not_silently_dropped() -> None:
    text = TOPOLOGY.read_text(encoding="utf-8") + "\nsectors:\n  tax: {}\n"
    problems = problems_of(text)
    assert any(p.startswith("sectors: key 'sectors' is given twice") for p in problems)


def test_problems_carry_line_numbers() -> None:
    text = TOPOLOGY.read_text(encoding="utf-8").replace("on_deceased: delete", "on_deceased: shred")
    with pytest.raises(TopologyError) as info:
        parse_topology(text)
    [problem] = info.value.problems
    expected = next(i for i, line in enumerate(text.splitlines(), 1) if "shred" in line)
    assert problem.path == "sectors.mobile-subscribers.on_deceased"
    assert problem.line == expected
    assert f"(line {expected})" in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(TopologyError, match="cannot read topology file"):
        load_topology(REPO / "deploy" / "no-such-topology.yaml")


# ---------------------------------------------------------------- derived topics


def test_derived_topics(shipped: Topology) -> None:
    specs = {s.name: s for s in derive_topics(shipped, "local")}
    assert {
        "civilstatus.events.v1",
        "residence.events.v1",
        "identity.events.v1",
        "reference.events.v1",
        "population.changes.v1",
        "population.citizens.v1",
        "bus.dead-letter.v1",
        "bus.data-usage.v1",
        "bus.heartbeats.v1",
    } <= set(specs)
    compacted = {n for n, s in specs.items() if s.config["cleanup.policy"] == "compact"}
    assert compacted == {"population.citizens.v1"} | {
        f"sector.{sector}.citizens.v1" for sector in shipped.sectors
    }
    for spec in specs.values():
        assert spec.replication_factor == 1
        assert spec.config["min.insync.replicas"] == "1"
        assert ("retention.ms" in spec.config) is (not spec.compacted)
    assert specs["bus.heartbeats.v1"].config["retention.ms"] == "86400000"


def test_verification_topics_only_for_sectors_that_verify(shipped: Topology) -> None:
    names = {s.name for s in derive_topics(shipped, "local")}
    for sector, spec in shipped.sectors.items():
        expected = spec.verification.enabled
        assert (f"sector.{sector}.verification-requests.v1" in names) is expected
        assert (f"sector.{sector}.verification-results.v1" in names) is expected
    assert not shipped.sectors["health"].verification.enabled


def test_prefix_and_role_helpers(shipped: Topology) -> None:
    topics = Topics(shipped, "local", topic_prefix="t42.")
    assert all(name.startswith("t42.") for name in topics.names())
    assert topics.source_topic("civil-status") == "t42.civilstatus.events.v1"
    assert topics.topic_for_event_type("Emigrated") == "t42.residence.events.v1"
    assert topics.sector_topic("tax") == "t42.sector.tax.citizens.v1"
    assert topics.verification_requests_topic("tax") == "t42.sector.tax.verification-requests.v1"
    assert topics.verification_results_topic("tax") == "t42.sector.tax.verification-results.v1"
    assert topics.population_changes == "t42.population.changes.v1"
    assert topics.population_citizens == "t42.population.citizens.v1"
    assert topics.dead_letter == "t42.bus.dead-letter.v1"
    assert topics.data_usage == "t42.bus.data-usage.v1"
    assert topics.heartbeats == "t42.bus.heartbeats.v1"
    assert topics.spec("t42.sector.tax.citizens.v1").role is TopicRole.SECTOR_CITIZENS
    with pytest.raises(KeyError, match="unknown sector 'banking'"):
        topics.sector_topic("banking")
    with pytest.raises(KeyError, match="no verification"):
        topics.verification_requests_topic("health")
    with pytest.raises(ValueError, match="prefix"):
        Topics(shipped, "local", topic_prefix="bad prefix/")


def test_production_defaults(shipped: Topology) -> None:
    specs = {s.name: s for s in derive_topics(shipped, "production")}
    assert {s.replication_factor for s in specs.values()} == {3}
    assert {s.config["min.insync.replicas"] for s in specs.values()} == {"2"}
    assert specs["civilstatus.events.v1"].partitions == 12
    assert specs["bus.heartbeats.v1"].partitions == 3


def test_unknown_environment(shipped: Topology) -> None:
    with pytest.raises(TopologyError, match="no topic defaults for environment 'staging'"):
        derive_topics(shipped, "staging")


# ---------------------------------------------------------------- CLI without Kafka


def test_cli_list_json() -> None:
    settings = Settings(topology=TOPOLOGY, environment="local", topic_prefix="cli.")
    result = CliRunner().invoke(topics_cli, ["list", "--json"], obj=settings)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["topic_prefix"] == "cli."
    assert "cli.sector.health.citizens.v1" in {t["name"] for t in listed["topics"]}


def test_cli_reports_every_topology_problem_and_exits_2(tmp_path: Path, doc: Doc) -> None:
    doc["sectors"]["tax"]["allowed_fields"][2] = "salary"
    del doc["sectors"]["health"]["legal_basis"]
    bad = tmp_path / "topology.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    settings = Settings(topology=bad)
    result = CliRunner().invoke(topics_cli, ["apply", "--json"], obj=settings)
    assert result.exit_code == 2
    report = json.loads(result.output)
    assert [p["path"] for p in report["problems"]] == [
        "sectors.tax.allowed_fields[2]",
        "sectors.health.legal_basis",
    ]
