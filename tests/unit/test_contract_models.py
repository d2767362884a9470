"""The models are the one source of truth: schemas, field lists and rules never drift from them."""

from __future__ import annotations

import json
from typing import Any

from schemas import avro_gen
from schemas.avro_files import AVRO_DIR
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS
from schemas.domain import MODEL_RULES, RULES
from schemas.event_types import EVENT_TYPES_BY_NAME
from schemas.fields import CITIZEN_FIELDS, CITIZEN_FIELDS_BY_NAME
from schemas.models.citizen import Citizen


def test_avsc_files_are_exactly_what_the_models_generate() -> None:
    assert avro_gen.stale_files() == [], "run `python -m schemas.avro_gen`"
    assert avro_gen.main(["--check"]) == 0


def _fields(schema: Any) -> list[dict[str, Any]]:
    """Every field of every record defined anywhere inside a schema."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            for field in schema["fields"]:
                found.append(field)
                found.extend(_fields(field["type"]))
        for key in ("items", "values"):
            if key in schema:
                found.extend(_fields(schema[key]))
    elif isinstance(schema, list):
        for branch in schema:
            found.extend(_fields(branch))
    return found


def test_every_field_has_a_doc_and_a_sensitivity_tag() -> None:
    for path in AVRO_DIR.glob("*.avsc"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["doc"], path.name
        for field in _fields(schema):
            assert field["doc"], f"{path.name}: {field['name']} has no doc"
            assert field["sensitivity"] in {
                "none",
                "identifier",
                "personal",
                "sensitive",
                "contact",
            }, f"{path.name}: {field['name']}"


def test_personal_fields_are_tagged_as_personal() -> None:
    citizen = json.loads((AVRO_DIR / "Citizen.avsc").read_text(encoding="utf-8"))
    for field in citizen["fields"]:
        assert field["sensitivity"] == CITIZEN_FIELDS_BY_NAME[field["name"]].sensitivity, field
    birth = {
        f["name"]: f
        for f in _fields(
            json.loads((AVRO_DIR / "CivilStatusEvent.avsc").read_text(encoding="utf-8"))
        )
    }
    assert birth["subject_pin"]["sensitivity"] == "identifier"
    assert birth["family_name"]["sensitivity"] == "personal"
    assert birth["ethnicity"]["sensitivity"] == "sensitive"


def test_citizen_record_has_exactly_the_canonical_fields() -> None:
    assert tuple(Citizen.model_fields) == tuple(f.name for f in CITIZEN_FIELDS)


def test_every_event_type_has_one_model_in_its_domain() -> None:
    assert set(EVENT_CLASSES) == set(EVENT_TYPES_BY_NAME)
    for name, cls in EVENT_CLASSES.items():
        assert EVENT_DOMAINS[EVENT_TYPES_BY_NAME[name].domain].event_class(name) is cls


def test_rules_raised_by_the_models_are_documented_with_their_kind() -> None:
    for rule in MODEL_RULES:
        assert rule in RULES, rule
        assert RULES[rule].kind == "schema"


def test_events_page_is_current_and_every_example_validates() -> None:
    from databus import contracts_doc
    from databus.topology.loader import load_topology
    from schemas.codec import event_from_data
    from schemas.examples import EXAMPLES

    assert contracts_doc.PAGE.read_text(encoding="utf-8") == contracts_doc.render(
        load_topology(contracts_doc.TOPOLOGY)
    ), "run `python -m databus.contracts_doc`"
    assert set(EXAMPLES) == set(EVENT_CLASSES)
    for event_type, example in EXAMPLES.items():
        domain = EVENT_DOMAINS[EVENT_TYPES_BY_NAME[event_type].domain]
        assert event_from_data(domain, example).event_type == event_type
