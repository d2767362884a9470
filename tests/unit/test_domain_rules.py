"""The rule catalogue, ContractError, and the table of invalid inputs: every schema rule fires
with the right field and rule id, and no message, str() or repr() ever contains the personal
value that was checked. Fast: no services."""

from __future__ import annotations

import ast
import pickle
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import schemas.domain
from schemas.domain import (
    FEMALE,
    MALE,
    MODEL_RULES,
    RULES,
    SCHEME_VN34,
    SCHEME_VN63,
    ContractError,
    Issue,
    RuleInfo,
    admin_unit_issues,
    date_issues,
    name_issues,
    pin_issues,
    raise_for_issues,
    timestamp_issues,
)

DOMAIN_DIR = Path(schemas.domain.__file__).parent
TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
DOB = date(2005, 3, 4)
LONG_NAME = "Nguyễn Phước Vĩnh " * 7

# (id, check, expected (field, rule) pairs, personal values that must never be shown)
Row = tuple[str, Callable[[], list[Issue]], list[tuple[str, str]], list[object]]

TABLE: list[Row] = [
    # PIN.
    ("pin-11-digits", lambda: pin_issues("00130500012"), [("pin", "pin.length")], ["00130500012"]),
    (
        "pin-13-digits",
        lambda: pin_issues("0013050001234", date_of_birth=DOB, sex=FEMALE),
        [("pin", "pin.length")],
        ["0013050001234", DOB],
    ),
    (
        "pin-letters",
        lambda: pin_issues("00130500O12A", field="payload.child.pin"),
        [("payload.child.pin", "pin.digits")],
        ["00130500O12A"],
    ),
    (
        "pin-unknown-province-003",
        lambda: pin_issues("003305000123", date_of_birth=DOB, sex=FEMALE),
        [("pin", "pin.place_code")],
        ["003305000123", DOB],
    ),
    (
        "pin-century-contradicts-birth-year",
        lambda: pin_issues("001005000123", date_of_birth=DOB, sex=MALE),
        [("pin", "pin.century_sex")],
        ["001005000123", DOB],
    ),
    (
        "pin-sex-contradicts-digit",
        lambda: pin_issues("001205000123", date_of_birth=DOB, sex=FEMALE),
        [("pin", "pin.sex_digit")],
        ["001205000123", DOB, FEMALE],
    ),
    (
        "pin-yy-mismatch",
        lambda: pin_issues("001206000123", date_of_birth=DOB, sex=MALE),
        [("pin", "pin.birth_year")],
        ["001206000123", DOB],
    ),
    # Dates.
    (
        "date-future",
        lambda: date_issues(date(2031, 5, 17), "payload.date_of_birth", today=TODAY),
        [("payload.date_of_birth", "date.future")],
        [date(2031, 5, 17), "2031"],
    ),
    (
        "date-before-1900",
        lambda: date_issues(date(1899, 12, 31), "date_of_birth", today=TODAY),
        [("date_of_birth", "date.before_1900")],
        [date(1899, 12, 31), "1899"],
    ),
    (
        "timestamp-future",
        lambda: timestamp_issues(
            datetime(2026, 1, 15, 13, 7, 9, tzinfo=UTC), "occurred_at", now=NOW
        ),
        [("occurred_at", "date.future")],
        [datetime(2026, 1, 15, 13, 7, 9, tzinfo=UTC), "13:07"],
    ),
    (
        "timestamp-before-1900",
        lambda: timestamp_issues(
            datetime(1899, 7, 4, 8, 30, tzinfo=UTC), "payload.died_at", now=NOW
        ),
        [("payload.died_at", "date.before_1900")],
        [datetime(1899, 7, 4, 8, 30, tzinfo=UTC), "1899"],
    ),
    (
        "timestamp-naive",
        lambda: timestamp_issues(datetime(2020, 5, 1, 10, 30), "occurred_at", now=NOW),
        [("occurred_at", "timestamp.naive")],
        [datetime(2020, 5, 1, 10, 30), "2020"],
    ),
    # Names.
    (
        "name-empty",
        lambda: name_issues(" \u00a0\t", "payload.child.given_name"),
        [("payload.child.given_name", "name.empty")],
        [],
    ),
    (
        "name-too-long",
        lambda: name_issues(LONG_NAME, "family_name"),
        [("family_name", "name.too_long")],
        [LONG_NAME, "Nguyễn", "Phước", "Vĩnh"],
    ),
    (
        "name-digit",
        lambda: name_issues("Trần Văn 7", "given_name"),
        [("given_name", "name.characters")],
        ["Trần Văn 7", "Trần", "Văn"],
    ),
    (
        "name-symbol-decomposed",
        lambda: name_issues(unicodedata.normalize("NFD", "Lê Thị@Hồng"), "given_name"),
        [("given_name", "name.characters")],
        ["Lê Thị@Hồng", "Hồng", "Thị@"],
    ),
    (
        "name-control",
        lambda: name_issues("Phạm\x07Quỳnh", "middle_name"),
        [("middle_name", "name.characters")],
        ["Phạm\x07Quỳnh", "Phạm", "Quỳnh"],
    ),
    # Administrative units.
    (
        "admin-unknown-scheme",
        lambda: admin_unit_issues("VN-64", "01", None, "00127", "payload.residence"),
        [("payload.residence.scheme", "admin.scheme")],
        ["VN-64", "00127"],
    ),
    (
        "admin-vn34-province-02-after-cutover",
        lambda: admin_unit_issues(SCHEME_VN34, "02", None, "00712", "addr", as_of=TODAY),
        [("addr.province", "admin.province")],
        ["00712"],
    ),
    (
        "admin-vn34-old-province-77",
        lambda: admin_unit_issues(SCHEME_VN34, "77", None, "26734", "addr", as_of=TODAY),
        [("addr.province", "admin.province")],
        ["77", "26734"],
    ),
    (
        "admin-vn34-with-district",
        lambda: admin_unit_issues(SCHEME_VN34, "79", "768", "26734", "addr", as_of=TODAY),
        [("addr.district", "admin.district")],
        ["768", "26734"],
    ),
    (
        "admin-vn63-bad-district",
        lambda: admin_unit_issues(SCHEME_VN63, "79", "7681", "26734", "addr"),
        [("addr.district", "admin.district")],
        ["7681", "26734"],
    ),
    (
        "admin-bad-commune",
        lambda: admin_unit_issues(SCHEME_VN34, "79", None, "2673", "addr"),
        [("addr.commune", "admin.commune")],
        ["2673"],
    ),
    (
        "admin-vn63-after-cutover",
        lambda: admin_unit_issues(SCHEME_VN63, "79", "768", "26734", "addr", as_of=TODAY),
        [("addr.scheme", "admin.scheme_date")],
        ["768", "26734"],
    ),
    (
        "admin-vn34-before-cutover",
        lambda: admin_unit_issues(SCHEME_VN34, "79", None, "26734", "addr", as_of=date(2024, 9, 3)),
        [("addr.scheme", "admin.scheme_date")],
        ["26734", "2024-09-03"],
    ),
]


def shown_forms(value: object) -> list[str]:
    """The ways a personal value could leak into text."""
    if isinstance(value, datetime):
        return [value.isoformat(), str(value), repr(value), value.date().isoformat()]
    if isinstance(value, date):
        return [value.isoformat(), str(value), repr(value), value.strftime("%d/%m/%Y")]
    assert isinstance(value, str)
    forms = {value, repr(value), normalize(value)}
    return sorted(form for form in forms if form)


def normalize(value: str) -> str:
    return unicodedata.normalize("NFC", value)


@pytest.mark.parametrize(
    ("check", "expected", "secrets"),
    [
        pytest.param(check, expected, secrets, id=row_id)
        for row_id, check, expected, secrets in TABLE
    ],
)
def test_invalid_input_table(
    check: Callable[[], list[Issue]], expected: list[tuple[str, str]], secrets: list[object]
) -> None:
    issues = check()
    assert [(issue.field, issue.rule) for issue in issues] == expected
    error = ContractError(issues, record="event 8c1e5f3a-0000-4000-8000-000000000001")
    texts = [
        *(issue.message for issue in issues),
        *(str(issue) for issue in issues),
        *(repr(issue) for issue in issues),
        str(error),
        repr(error),
        str(error.args),
    ]
    for secret in secrets:
        for form in shown_forms(secret):
            for text in texts:
                assert form not in text, f"{form!r} shown in {text!r}"
    for issue in issues:
        assert issue.rule in RULES
        assert RULES[issue.rule].kind == "schema"
        assert issue.message and issue.message[0].islower()
        # Messages are also used as pydantic error templates: no format placeholders.
        assert "{" not in issue.message and "}" not in issue.message


def test_table_covers_every_schema_rule() -> None:
    fired = {rule for _, _, expected, _ in TABLE for _, rule in expected}
    schema_rules = {rule for rule, info in RULES.items() if info.kind == "schema"}
    assert fired == schema_rules - MODEL_RULES


# --- the catalogue ---------------------------------------------------------------------------

RULE_ID = re.compile(
    r"^(pin|name|date|timestamp|admin|subject|source|correction|event)\.[a-z_0-9]+$"
)


def rule_ids_in_source() -> dict[str, set[str]]:
    """Every rule-id-like string constant and every Issue(...) rule argument, per module."""
    found: dict[str, set[str]] = {}
    for path in sorted(DOMAIN_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        ids: set[str] = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and RULE_ID.match(node.value)
            ):
                ids.add(node.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Issue":
                rule = node.args[1] if len(node.args) > 1 else None
                for keyword in node.keywords:
                    if keyword.arg == "rule":
                        rule = keyword.value
                assert isinstance(rule, ast.Constant), f"{path.name}: rule id must be a literal"
                assert isinstance(rule.value, str)
                ids.add(rule.value)
        found[path.name] = ids
    return found


def test_every_rule_id_used_in_the_package_is_catalogued() -> None:
    found = rule_ids_in_source()
    used = set().union(*(ids for name, ids in found.items() if name != "issues.py"))
    assert used
    assert used <= set(RULES), sorted(used - set(RULES))
    assert set(RULES) == found["issues.py"]


def test_catalogue_entries() -> None:
    for rule, info in RULES.items():
        assert isinstance(info, RuleInfo)
        assert info.rule == rule
        assert RULE_ID.match(rule)
        assert info.kind in ("schema", "processing")
        assert info.description.endswith(".")
    processing = {rule for rule, info in RULES.items() if info.kind == "processing"}
    assert processing == {
        "subject.exists",
        "subject.deceased",
        "source.authoritative",
        "correction.target_exists",
        "pin.reestablished_unique",
        "event.duplicate",
        "event.late",
    }


def test_catalogue_is_read_only() -> None:
    with pytest.raises(TypeError):
        RULES["x.y"] = RuleInfo("x.y", "schema", "x.")  # type: ignore[index]


# --- ContractError ---------------------------------------------------------------------------

LENGTH = Issue("pin", "pin.length", "the PIN must have exactly 12 digits")
FUTURE = Issue("date_of_birth", "date.future", "the date is in the future")


def test_contract_error_str() -> None:
    error = ContractError([LENGTH, FUTURE], record="event 8c1e")
    assert str(error) == (
        "event 8c1e: 2 problems: pin [pin.length] the PIN must have exactly 12 digits; "
        "date_of_birth [date.future] the date is in the future"
    )
    assert str(ContractError([LENGTH])) == (
        "1 problem: pin [pin.length] the PIN must have exactly 12 digits"
    )
    assert str(LENGTH) == "pin: rule pin.length: the PIN must have exactly 12 digits"
    assert error.rules == ("pin.length", "date.future")
    assert error.issues == (LENGTH, FUTURE)
    assert error.record == "event 8c1e"
    assert isinstance(error, ValueError)
    assert repr(error).startswith("ContractError(issues=(Issue(field='pin'")


def test_contract_error_needs_issues() -> None:
    with pytest.raises(ValueError, match="at least one issue"):
        ContractError([])


def test_contract_error_pickles() -> None:
    error = ContractError([LENGTH], record="line 12")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.issues, copy.record, str(copy)) == (error.issues, error.record, str(error))


def test_raise_for_issues() -> None:
    raise_for_issues([])
    raise_for_issues(pin_issues("001205000123"), record="line 3")
    with pytest.raises(ContractError, match=r"^line 3: 1 problem: pin \[pin.length\]") as caught:
        raise_for_issues(pin_issues("0012050001"), record="line 3")
    assert "0012050001" not in str(caught.value)


def test_issue_is_frozen() -> None:
    with pytest.raises(AttributeError):
        LENGTH.rule = "x"  # type: ignore[misc]


def test_public_api() -> None:
    assert set(schemas.domain.__all__) <= set(dir(schemas.domain))
    for name in ("pin_issues", "name_issues", "date_issues", "timestamp_issues"):
        assert getattr(schemas.domain, name).__doc__


def test_domain_imports_only_stdlib_and_itself() -> None:
    allowed = {"__future__", "collections", "dataclasses", "datetime", "types", "typing"}
    allowed |= {"unicodedata"}
    for path in DOMAIN_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert module.startswith("schemas.domain") or module.split(".")[0] in allowed, (
                    f"{path.name} imports {module}"
                )
