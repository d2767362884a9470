"""The compiled event checker (`schemas.fast_events`) only ever agrees with the pydantic path.

For any input dict, when `FastEvents(domain).encode(data, out)` returns True, the pydantic path
(`schemas.codec.event_from_data` then the domain's Avro writer) accepts the same data and
writes exactly the bytes the checker appended; when it returns False, `out` is untouched.
And the checker is really taken: every valid example and sample event, once pydantic has seen
its name parts, goes through it, for every event type.

The inputs start from valid events of every type and are mutated one to a few times: timestamp
and date forms and boundaries (1900, the future, the recording skew, the VN-34 cutover), UUID
and PIN forms, names in every normal form, strings at and over their limits, patterns, enums,
and the structure (extra, missing and None keys, other containers). Each kind of mutation has a
deterministic sweep over its special values and a hypothesis test combining them.
"""

from __future__ import annotations

import contextlib
import copy
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from bench.sample_events import sample_events
from schemas.avro_files import schema_dict
from schemas.avro_writer import Writer, compile_writer
from schemas.catalog import EVENT_CLASSES, EVENT_DOMAINS, EventDomain
from schemas.codec import event_from_data
from schemas.domain import VN34_PROVINCES, VN63_PROVINCES, make_pin
from schemas.examples import EXAMPLES
from schemas.fast_events import COMPILED, FastEvents
from schemas.models.base import ChangeType, Sex
from schemas.models.civil_status import DissolutionReason
from schemas.models.common import IdentityCardType
from schemas.models.identity import ReestablishReason
from schemas.models.residence import ResidenceKind
from tests.strategies import FAMILY_NAMES, GIVEN_NAMES, MIDDLE_NAMES
from tests.strategies import events as generated_events

Path = tuple[Any, ...]
Event = dict[str, Any]
Mutation = Callable[[st.DrawFn, Event], None]

HEAD = b"\x01head"
"""What `out` holds before the call: the checker appends after it, or leaves it alone."""


class _Str(str):
    """A str subclass: pydantic reads it as a str, the checker takes only `str` itself."""


# --- the two paths --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paths:
    domain: EventDomain
    fast: FastEvents
    writer: Writer


PATHS: dict[str, _Paths] = {
    name: _Paths(domain, FastEvents(domain), compile_writer(schema_dict(domain.record_name)))
    for name, domain in EVENT_DOMAINS.items()
}
DOMAIN_OF: dict[str, str] = {
    str(cls.model_fields["event_type"].default): name
    for name, domain in EVENT_DOMAINS.items()
    for cls in domain.events
}


def _slow(paths: _Paths, data: Any) -> bytes | Exception:
    """The pydantic path's bytes for `data`, or what it raised."""
    try:
        model = event_from_data(paths.domain, data)
        out = bytearray()
        paths.writer(model, out)
    except Exception as error:  # any failure: the checker must not have accepted the data
        return error
    return bytes(out)


def discrepancy(domain: str, data: Any) -> tuple[bool, str | None]:
    """(whether the fast path was taken, what breaks the contract or None).

    Pydantic runs first so that the name parts are in its cache, and runs again after the
    checker for the comparison: the clock only moves forward, so a timestamp or date the
    checker found not in the future is not in the future for that second run either."""
    paths = PATHS[domain]
    _slow(paths, data)
    before = copy.deepcopy(data)
    out = bytearray(HEAD)
    taken = paths.fast.encode(data, out)
    slow = _slow(paths, data)
    if data != before:
        return taken, "the input was changed (by the checker or by pydantic)"
    if not taken:
        return False, None if bytes(out) == HEAD else "refused, but `out` was changed"
    if isinstance(slow, Exception):
        return True, f"taken, but pydantic refuses: {type(slow).__name__}: {slow}"
    if bytes(out) != HEAD + slow:
        return True, f"taken, but bytes differ: fast {bytes(out)[len(HEAD) :]!r} slow {slow!r}"
    return True, None


def assert_same(domain: str, data: Any) -> bool:
    """Assert the contract for `data`; whether the fast path was taken."""
    taken, problem = discrepancy(domain, data)
    assert problem is None, f"{problem}\ninput: {data!r}"
    return taken


def assert_sweep(cases: Iterator[tuple[str, Any]]) -> int:
    """Assert the contract for every (domain, data); all the breaks are reported at once.
    Returns how many cases took the fast path."""
    failures: list[str] = []
    taken_count = 0
    for domain, data in cases:
        taken, problem = discrepancy(domain, data)
        taken_count += taken
        if problem is not None:
            failures.append(f"{problem}\n  input: {data!r}")
    assert not failures, f"{len(failures)} discrepancies:\n" + "\n".join(failures[:20])
    return taken_count


# --- paths in nested data -------------------------------------------------------------------


def _paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """The path of every value under dicts and lists (keys and indexes), depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _get(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def _set(data: Any, path: Path, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _with(event: Event, path: Path, value: Any) -> Event:
    """A copy of `event` with `value` at `path`."""
    changed = copy.deepcopy(event)
    _set(changed, path, value)
    return changed


def _without(event: Event, path: Path) -> Event:
    changed = copy.deepcopy(event)
    del _get(changed, path[:-1])[path[-1]]
    return changed


def _keyed(event: Any, keys: Sequence[str] | set[str] | dict[str, Any]) -> list[Path]:
    """Paths whose last key is one of `keys` (under dicts only)."""
    return [p for p in _paths(event) if isinstance(p[-1], str) and p[-1] in keys]


# --- valid events to start from -------------------------------------------------------------


def _variants() -> list[Event]:
    """Valid events beyond the examples: other schemes, missing optional keys, corrections."""
    found: list[Event] = []
    birth = copy.deepcopy(EXAMPLES["BirthRegistered"])
    birth["occurred_at"] = "2025-06-30T23:59:59+07:00"  # still VN-63 in Vietnam
    birth["recorded_at"] = "2025-07-01T08:00:00+07:00"
    birth["payload"]["place_of_birth_registration"] = {
        "scheme": "VN-63",
        "province_code": "36",
        "district_code": "356",
        "commune_code": "13669",
    }
    del birth["payload"]["place_of_birth"], birth["payload"]["hometown"]
    birth["payload"]["father"] = None
    del birth["payload"]["mother"]["pin"]
    birth["payload"]["name"]["middle_name"] = None
    found.append(birth)

    abroad = copy.deepcopy(EXAMPLES["BirthRegistered"])
    abroad["subject_pin"] = make_pin("295", date(2024, 5, 17), "FEMALE", 1)
    abroad["payload"]["nationalities"] = ["VN", "JP"]
    abroad["correlation_id"] = "c" * 100
    found.append(abroad)

    old = copy.deepcopy(EXAMPLES["PinIssued"])
    old["subject_pin"] = make_pin("101", date(1900, 1, 1), "MALE", 999_999)
    old["payload"].update(date_of_birth="1900-01-01", sex="MALE", issued_on="1900-01-01")
    found.append(old)

    permanent = copy.deepcopy(EXAMPLES["PermanentResidenceRegistered"])
    permanent["payload"]["registered_on"] = "2025-06-30"
    permanent["payload"]["address"] = {
        "unit": {"scheme": "VN-63", "province_code": "02", "district_code": "026"}
    }
    found.append(permanent)

    temporary = copy.deepcopy(EXAMPLES["TemporaryResidenceRegistered"])
    del temporary["payload"]["valid_until"]
    temporary["payload"]["address"]["unit"]["commune_code"] = None
    found.append(temporary)

    corrected = copy.deepcopy(EXAMPLES["DeathRegistered"])
    corrected["change_type"] = "CORRECTED"
    corrected["corrects_event_id"] = "7d1f3c2a-0c55-4e8b-9f0e-000000000002"
    corrected["occurred_at"] = "2025-08-01T23:00:00Z"
    corrected["recorded_at"] = "2025-08-01T22:55:00-00:00"  # exactly the skew
    found.append(corrected)

    annulled = copy.deepcopy(EXAMPLES["MarriageDissolved"])
    annulled["change_type"] = "ANNULLED"
    annulled["corrects_event_id"] = "7D1F3C2A-0C55-4E8B-9F0E-00000000000A"
    annulled["payload"]["reason"] = "SPOUSE_DECEASED"
    del annulled["payload"]["decision_number"]
    found.append(annulled)

    changed = copy.deepcopy(EXAMPLES["CivilStatusChanged"])
    changed["payload"].update(name=None, sex="MALE", ethnicity="Tày", nationalities=["VN", "LA"])
    found.append(changed)

    card = copy.deepcopy(EXAMPLES["IdentityCardIssued"])
    card["payload"]["card"].update(card_type="CMND", number="123456789", expires_on=None)
    found.append(card)

    reference = copy.deepcopy(EXAMPLES["AdministrativeUnitsReorganized"])
    del reference["subject_pin"], reference["change_type"], reference["corrects_event_id"]
    reference["payload"]["mappings"].append(
        {"from_province": "30", "from_district": "288", "to_province": "31"}
    )
    found.append(reference)
    return found


VARIANTS = _variants()
SAMPLES = sample_events(40, seed=11)
BASES: list[Event] = [*EXAMPLES.values(), *VARIANTS, *SAMPLES]


@st.composite
def _bases(draw: st.DrawFn) -> Event:
    """A deep copy of a valid event: an example, a variant, a sample or a generated one."""
    if draw(st.integers(0, 4)) == 0:
        return draw(generated_events)
    return copy.deepcopy(draw(st.sampled_from(BASES)))


def _mutated(mutations: Sequence[Mutation], most: int = 3) -> st.SearchStrategy[tuple[str, Event]]:
    """(domain, event): a valid event with one to `most` of `mutations` applied."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, Event]:
        event = draw(_bases())
        domain = DOMAIN_OF[event["event_type"]]
        for _ in range(draw(st.integers(1, most))):
            draw(st.sampled_from(mutations))(draw, event)
        return domain, event

    return build()


def _replace(keys: Sequence[str] | set[str] | dict[str, Any], values: Any) -> Mutation:
    """A mutation putting a value of `values` (a strategy, or a function of the path giving
    one) at one of the paths ending in `keys`."""

    def mutate(draw: st.DrawFn, event: Event) -> None:
        found = _keyed(event, keys)
        if found:
            path = draw(st.sampled_from(found))
            strategy = values(path) if callable(values) else values
            _set(event, path, draw(strategy))

    return mutate


def _check_mutated(case: tuple[str, Event]) -> None:
    domain, event = case
    note(repr(event))
    taken = assert_same(domain, event)
    hypothesis_event("fast path" if taken else "pydantic path")


MUTATION_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _examples_with(keys: Sequence[str] | set[str] | dict[str, Any]) -> Iterator[tuple[Event, Path]]:
    """(event, path) for each path ending in `keys` of each example and variant."""
    for event in [*EXAMPLES.values(), *VARIANTS]:
        for path in _keyed(event, keys):
            yield event, path


def _domain(event: Event) -> str:
    return DOMAIN_OF[event["event_type"]]


# --- the fast path is taken -----------------------------------------------------------------


def test_the_checker_is_built_and_supports_every_event_type() -> None:
    assert COMPILED, "the C extension schemas/_fast_check is not built"
    for paths in PATHS.values():
        assert paths.fast.unsupported == {}
    assert set(DOMAIN_OF) == set(EVENT_CLASSES) == set(EXAMPLES)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_every_example_takes_the_fast_path_with_the_same_bytes(event_type: str) -> None:
    assert assert_same(DOMAIN_OF[event_type], copy.deepcopy(EXAMPLES[event_type]))


@pytest.mark.parametrize("index", range(len(VARIANTS)))
def test_valid_variants_take_the_fast_path_with_the_same_bytes(index: int) -> None:
    event = copy.deepcopy(VARIANTS[index])
    assert assert_same(_domain(event), event)


def test_3000_sample_events_take_the_fast_path_with_the_same_bytes() -> None:
    events = sample_events(3000, seed=6)
    for event in events:  # once through pydantic: the names are then known
        _slow(PATHS[_domain(event)], event)
    for event in events:
        paths = PATHS[_domain(event)]
        out = bytearray(HEAD)
        assert paths.fast.encode(event, out), event
        slow = _slow(paths, event)
        assert isinstance(slow, bytes), slow
        assert bytes(out) == HEAD + slow, event


@settings(max_examples=150, deadline=None)
@given(generated_events)
def test_generated_valid_events_take_the_fast_path(data: Event) -> None:
    """`tests.strategies.events` are valid; only a birth whose occurred_at is on the other side
    of the VN-34 cutover in Vietnam than in UTC (the strategy picks the unit by the UTC date)
    is refused by pydantic, hence by the checker."""
    domain = _domain(data)
    taken = assert_same(domain, data)
    assert taken or isinstance(_slow(PATHS[domain], data), Exception)


# --- timestamps -----------------------------------------------------------------------------

NOW = datetime.now(UTC)
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone(timedelta(hours=14)))
"""The earliest instant accepted: 1 January 1900 somewhere on earth (1899-12-31T10:00Z)."""
OFFSETS = [
    "Z",
    "z",
    "+00:00",
    "-00:00",
    "+07:00",
    "-05:30",
    "+0700",
    "+07",
    "+7:00",
    "+07:0",
    "+23:59",
    "-23:59",
    "+24:00",
    "+14:00",
    "-12:00",
    "+07:00:00",
    " +07:00",
    "UTC",
    "",
]
FRACTIONS = ["", ".", *(f".{'123456789'[:n]}" for n in range(1, 10)), ".000000", ".999999"]
ZONES = [timezone(timedelta(minutes=m)) for m in (0, 420, -330, 840, -720, 1439, -1439, 1)]


def _iso(instant: datetime, zone: timezone, spec: str = "auto", z: bool = False) -> str:
    text = instant.astimezone(zone).isoformat(timespec=spec)
    return text.replace("+00:00", "Z") if z else text


def _special_timestamps() -> list[Any]:
    found: list[Any] = [
        f"2025-08-04T09:30:00{fraction}{offset}" for offset in OFFSETS for fraction in FRACTIONS
    ]
    found += [
        "2025-08-04 09:30:00+07:00",
        "2025-08-04t09:30:00+07:00",
        "2025-08-04T09:30:00Z ",
        " 2025-08-04T09:30:00Z",
        "2025-08-04T09:30:00+07:00\n",
        "2025-08-04T09:30Z",
        "2025-08-04T9:30:00Z",
        "2025-8-4T09:30:00Z",
        "2025-08-04",
        "2025-08-04T09:30:60Z",
        "2025-08-04T24:00:00Z",
        "2025-08-04T23:60:00Z",
        "2024-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.999999-23:59",
        "3000-01-01T00:00:00Z",
        "1800-01-01T00:00:00Z",
        "1899-12-31T10:00:00Z",
        "1899-12-31T09:59:59.999999Z",
        "1899-12-31T10:00:00+00:01",
        "1899-12-31T10:00:00-00:00",
        "1900-01-01T00:00:00+14:00",
        "1900-01-01T00:00:00+14:01",
        "1900-01-01T00:00:00+23:59",
        "1899-12-31T00:00:00-10:00",
        "1899-12-31T23:59:59Z",
        "２０２５-08-04T09:30:00Z",
        "٢٠٢٥-08-04T09:30:00Z",
        "2025-08-04T09:30:00\u200b+07:00",
        "2025-08-04T09:30:00\ud800",
        "",
        "now",
        1754274600,
        1754274600.5,
        None,
        True,
        datetime(2025, 8, 4, 2, 30, tzinfo=UTC),
        datetime(2025, 8, 4, 2, 30),
        date(2025, 8, 4),
        b"2025-08-04T09:30:00Z",
        ["2025-08-04T09:30:00Z"],
        _Str("2025-08-04T09:30:00+07:00"),
    ]
    for delta in (-86400.0, -300, 0, 240, 299, 301, 360, 86400, 366 * 86400):
        instant = NOW + timedelta(seconds=delta)
        for zone in ZONES[:4]:
            found.append(_iso(instant, zone, "microseconds"))
            found.append(_iso(instant, zone, "seconds", z=True))
    return found


SPECIAL_TIMESTAMPS = _special_timestamps()
TIMESTAMP_KEYS = ("occurred_at", "recorded_at")


def _both(event: Event, value: Any) -> Event:
    changed = copy.deepcopy(event)
    changed["occurred_at"] = changed["recorded_at"] = value
    return changed


def test_special_timestamps_in_either_field_or_both() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event in [*EXAMPLES.values(), VARIANTS[0]]:
            for value in SPECIAL_TIMESTAMPS:
                yield _domain(event), _both(event, value)
                for key in TIMESTAMP_KEYS:
                    yield _domain(event), _with(event, (key,), value)

    assert assert_sweep(cases()) > 0


def test_timestamp_forms_the_checker_documents_are_taken() -> None:
    event = EXAMPLES["DeathRegistered"]
    for offset in ("Z", "+07:00", "-05:30", "-00:00", "+23:59", "-23:59"):
        for fraction in FRACTIONS:
            if fraction in ("", ".") or len(fraction) <= 7:
                value = f"2025-08-04T09:30:00{fraction}{offset}"
                taken = assert_same("civil-status", _both(event, value))
                assert taken == (fraction != "."), value


def test_recorded_at_around_five_minutes_before_occurred_at() -> None:
    occurred = datetime(2025, 8, 4, 3, 0, tzinfo=UTC)
    deltas = [timedelta(0), timedelta(minutes=-1), timedelta(minutes=4, seconds=59)]
    deltas += [timedelta(minutes=5) + timedelta(microseconds=d) for d in (-1, 0, 1, 1000)]
    deltas += [timedelta(minutes=5, seconds=1), timedelta(hours=1), timedelta(days=400)]

    def cases() -> Iterator[tuple[str, Any]]:
        for event in (EXAMPLES["DeathRegistered"], EXAMPLES["AdministrativeUnitsReorganized"]):
            for delta in deltas:
                for first in ZONES:
                    for second in ZONES:
                        changed = copy.deepcopy(event)
                        changed["occurred_at"] = _iso(occurred, first, z=True)
                        changed["recorded_at"] = _iso(occurred - delta, second)
                        yield _domain(event), changed

    assert assert_sweep(cases()) > 0


def test_instants_around_1900_in_every_offset() -> None:
    steps = [timedelta(microseconds=d) for d in (-1, 0, 1)]
    steps += [timedelta(seconds=d) for d in (-1, 1, 3600 * 14, -3600 * 14)]
    steps += [timedelta(days=-1), timedelta(days=-365 * 100), timedelta(days=1)]

    def cases() -> Iterator[tuple[str, Any]]:
        event = EXAMPLES["DeathRegistered"]
        for step in steps:
            for zone in ZONES:
                for spec in ("auto", "seconds", "microseconds"):
                    value = _iso(EARLIEST + step, zone, spec)
                    yield "civil-status", _both(event, value)
                    yield "civil-status", _both(event, value.replace("+00:00", "Z"))

    assert assert_sweep(cases()) > 0


_zone_minutes = st.integers(-1439, 1439)
_offset_texts = st.one_of(
    st.sampled_from(OFFSETS),
    _zone_minutes.map(lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"),
)
_date_texts = st.one_of(
    st.sampled_from(["0000-01-01", "0001-01-01", "1899-12-31", "2024-02-30", "2023-02-29"]),
    st.dates(date(1899, 12, 29), date(1900, 1, 3)).map(date.isoformat),
    st.dates(date(2024, 1, 1), (NOW + timedelta(days=2)).date()).map(date.isoformat),
    st.dates(date(1, 1, 1), date(9999, 12, 31)).map(date.isoformat),
)
_time_texts = st.one_of(
    st.times().map(lambda t: t.strftime("%H:%M:%S")),
    st.tuples(st.integers(0, 25), st.integers(0, 61), st.integers(0, 61)).map(
        lambda t: f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}"
    ),
)
_fraction_texts = st.one_of(
    st.sampled_from(FRACTIONS), st.text("0123456789", max_size=10).map(lambda s: f".{s}")
)
_timestamp_texts = st.builds(
    "{}{}{}{}{}".format,
    _date_texts,
    st.sampled_from(["T", "T", "T", "t", " ", "_"]),
    _time_texts,
    _fraction_texts,
    _offset_texts,
)
_zones = _zone_minutes.map(lambda m: timezone(timedelta(minutes=m)))
_instants = st.one_of(
    st.datetimes(datetime(2020, 1, 1), datetime(2026, 1, 1), timezones=_zones),
    st.datetimes(datetime(1899, 12, 29), datetime(1900, 1, 3), timezones=_zones),
    st.builds(lambda s: NOW + timedelta(seconds=s), st.floats(-600, 600)),
)
_instant_texts = st.builds(
    _iso,
    _instants,
    _zones,
    st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"]),
    st.booleans(),
)
timestamps = st.one_of(
    st.sampled_from(SPECIAL_TIMESTAMPS), _timestamp_texts, _instant_texts, _instants
)


def _skewed_pair(draw: st.DrawFn, event: Event) -> None:
    occurred = draw(_instants)
    delta = draw(
        st.one_of(
            st.timedeltas(timedelta(minutes=4), timedelta(minutes=6)),
            st.sampled_from([timedelta(minutes=5), timedelta(minutes=5, microseconds=1)]),
            st.timedeltas(timedelta(days=-2), timedelta(days=2)),
        )
    )
    event["occurred_at"] = draw(st.builds(_iso, st.just(occurred), _zones, st.just("auto")))
    event["recorded_at"] = draw(st.builds(_iso, st.just(occurred - delta), _zones, st.just("auto")))


def _both_timestamps(draw: st.DrawFn, event: Event) -> None:
    event["occurred_at"] = event["recorded_at"] = draw(timestamps)


TIMESTAMP_MUTATIONS = [_replace(TIMESTAMP_KEYS, timestamps), _skewed_pair, _both_timestamps]


@MUTATION_SETTINGS
@given(_mutated(TIMESTAMP_MUTATIONS))
def test_mutated_timestamps(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- dates ----------------------------------------------------------------------------------

DATE_KEYS = (
    "date_of_birth",
    "date_of_death",
    "married_on",
    "dissolved_on",
    "registered_on",
    "valid_until",
    "deregistered_on",
    "departed_on",
    "issued_on",
    "expires_on",
    "effective_on",
    "replaced_on",
)
TODAY_EVERYWHERE = datetime.now(timezone(timedelta(hours=14))).date()
"""The latest calendar date on earth: later dates are in the future."""


def _special_dates() -> list[Any]:
    found: list[Any] = [
        (TODAY_EVERYWHERE + timedelta(days=d)).isoformat() for d in (-2, -1, 0, 1, 2, 400)
    ]
    found += [
        NOW.date().isoformat(),
        "1899-12-31",
        "1900-01-01",
        "1900-01-02",
        "1800-06-01",
        "2024-02-29",
        "2023-02-29",
        "2024-02-30",
        "2024-04-31",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "0000-01-01",
        "0001-01-01",
        "9999-12-31",
        "3000-01-01",
        "2025-06-30",
        "2025-07-01",
        "2024-1-5",
        "2024-01-5",
        "20240105",
        "2024-01-05T00:00:00",
        "2024-01-05T00:00:00Z",
        "2024-01-05T01:00:00",
        "2024-01-05 00:00:00",
        "2024/01/05",
        " 2024-01-05",
        "2024-01-05 ",
        "2024-01-05\n",
        "２０２４-01-05",
        "٢٠٢٤-٠١-٠٥",
        "2024-01-05\ud800",
        "+2024-01-05",
        "",
        date(2024, 1, 5),
        datetime(2024, 1, 5),
        datetime(2024, 1, 5, tzinfo=UTC),
        0,
        1704412800,
        1704412800.0,
        None,
        True,
        b"2024-01-05",
        _Str("2024-01-05"),
    ]
    return found


SPECIAL_DATES = _special_dates()


def _pin_for(event: Event) -> Event:
    """`event` with a subject PIN made for its payload's date of birth and sex, when they allow
    one (so that a changed date is not refused only for the PIN)."""
    payload = event.get("payload")
    if not isinstance(payload, dict):
        return event
    dob, sex = payload.get("date_of_birth"), payload.get("sex")
    if isinstance(dob, str) and isinstance(sex, str):
        with contextlib.suppress(ValueError):
            event["subject_pin"] = make_pin("001", date.fromisoformat(dob), sex, 123)
    return event


def test_special_dates_at_every_date_field() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event, path in _examples_with(DATE_KEYS):
            for value in SPECIAL_DATES:
                changed = _with(event, path, value)
                yield _domain(event), changed
                if path[-1] == "date_of_birth":
                    yield _domain(event), _pin_for(copy.deepcopy(changed))

    assert assert_sweep(cases()) > 0


dates = st.one_of(
    st.sampled_from(SPECIAL_DATES),
    st.dates(date(1899, 12, 25), TODAY_EVERYWHERE + timedelta(days=3)).map(date.isoformat),
    st.dates().map(date.isoformat),
    st.dates(),
)


def _dob_with_pin(draw: st.DrawFn, event: Event) -> None:
    payload = event.get("payload")
    if isinstance(payload, dict) and "date_of_birth" in payload:
        payload["date_of_birth"] = draw(dates)
        if draw(st.booleans()):
            _pin_for(event)


DATE_MUTATIONS = [_replace(DATE_KEYS, dates), _dob_with_pin]


@MUTATION_SETTINGS
@given(_mutated(DATE_MUTATIONS))
def test_mutated_dates(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- UUIDs ----------------------------------------------------------------------------------

UUID_KEYS = ("event_id", "corrects_event_id")
AN_ID = uuid.UUID("7d1f3c2a-0c55-4e8b-9f0e-00000000abcd")


def _mixed_case(text: str, pattern: int) -> str:
    return "".join(c.upper() if pattern >> (i % 31) & 1 else c for i, c in enumerate(text))


def _uuid_forms(value: uuid.UUID) -> list[Any]:
    text = str(value)
    return [
        text,
        text.upper(),
        _mixed_case(text, 0x2AAAAAAA),
        value.hex,
        value.hex.upper(),
        "{" + text + "}",
        "urn:uuid:" + text,
        text[:-1],
        text + "0",
        text[:-1] + "g",
        text[:-1] + "٠",
        text.replace("-", "_"),
        text[:8] + text[9:13] + "-" + text[8] + text[13:],  # a hyphen moved
        f" {text}",
        f"{text}\n",
        value,
        value.int,
        value.bytes,
        _Str(text),
        None,
        "",
    ]


SPECIAL_UUIDS = [
    *_uuid_forms(AN_ID),
    *_uuid_forms(uuid.UUID(int=0)),
    str(uuid.UUID(int=-1 % 2**128)),
]


def _with_target(event: Event) -> Event:
    changed = copy.deepcopy(event)
    changed["change_type"] = "CORRECTED"
    changed["corrects_event_id"] = str(AN_ID)
    return changed


def test_special_uuids_in_event_id_and_corrects_event_id() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event in EXAMPLES.values():
            for value in SPECIAL_UUIDS:
                yield _domain(event), _with(event, ("event_id",), value)
                yield _domain(event), _with(_with_target(event), ("corrects_event_id",), value)

    assert assert_sweep(cases()) > 0


uuids = st.one_of(
    st.sampled_from(SPECIAL_UUIDS),
    st.uuids().flatmap(lambda u: st.sampled_from(_uuid_forms(u))),
    st.builds(_mixed_case, st.uuids().map(str), st.integers(0, 2**31 - 1)),
    st.text("0123456789abcdefABCDEF-", min_size=35, max_size=37),
)


def _targeted(draw: st.DrawFn, event: Event) -> None:
    event["change_type"] = draw(st.sampled_from(["CORRECTED", "ANNULLED"]))
    event["corrects_event_id"] = draw(uuids)


UUID_MUTATIONS = [_replace(UUID_KEYS, uuids), _targeted]


@MUTATION_SETTINGS
@given(_mutated(UUID_MUTATIONS))
def test_mutated_uuids(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- PINs -----------------------------------------------------------------------------------

PIN_KEYS = ("subject_pin", "pin", "old_pin")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
UNKNOWN_PLACES = ("000", "003", "097", "099", "100", "296", "500", "999")


def _pin_forms(pin: str) -> list[Any]:
    """A PIN and its broken forms: other place codes, digits, lengths, types."""
    g, yy, serial = pin[3], pin[4:6], pin[6:]
    flipped = str(int(g) ^ 1)  # the other sex, same century
    other_century = str((int(g) + 2) % 10)
    found: list[Any] = [pin, *(f"{place}{pin[3:]}" for place in UNKNOWN_PLACES)]
    found += [
        f"{pin[:3]}{flipped}{yy}{serial}",
        f"{pin[:3]}{other_century}{yy}{serial}",
        f"{pin[:4]}{(int(yy) + 1) % 100:02d}{serial}",
        pin[:-1],
        pin + "0",
        pin[:-1] + "a",
        pin[:-1] + " ",
        pin.translate(ARABIC_INDIC),
        pin[:-1] + pin[-1].translate(ARABIC_INDIC),
        pin.translate(FULLWIDTH),
        f"{pin}\n",
        f" {pin}",
        pin[:-1] + "\ud800",
        int(pin),
        _Str(pin),
        None,
        "",
    ]
    return found


def _subject_pin_forms(event: Event) -> list[Any]:
    payload = event["payload"]
    if "date_of_birth" in payload:
        dob = date.fromisoformat(payload["date_of_birth"])
        sex = payload["sex"]
        found = [make_pin(place, dob, sex, 7) for place in ("001", "096", "101", "295")]
        return [*found, *_pin_forms(found[0])]
    return _pin_forms(event["subject_pin"] or "001190000001")


def test_special_pins_at_every_pin_field() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event, path in _examples_with(PIN_KEYS):
            current = _get(event, path)
            forms = _subject_pin_forms(event) if path == ("subject_pin",) else []
            for value in [*forms, *_pin_forms(current or "036194770381")]:
                yield _domain(event), _with(event, path, value)
        reestablished = EXAMPLES["PinReestablished"]
        same = _with(reestablished, ("payload", "old_pin"), reestablished["subject_pin"])
        yield "identity", same

    assert assert_sweep(cases()) > 0


@st.composite
def pins(draw: st.DrawFn) -> Any:
    dob = draw(st.dates(date(1899, 12, 30), date(2399, 12, 31)))
    place = draw(st.sampled_from(["001", "036", "096", "101", "295", *UNKNOWN_PLACES]))
    g = draw(st.integers(0, 9))
    pin = f"{place}{g}{dob.year % 100:02d}{draw(st.integers(0, 999_999)):06d}"
    return draw(st.sampled_from(_pin_forms(pin)))


def _identity_pin(draw: st.DrawFn, event: Event) -> None:
    """A subject PIN made for the payload's date of birth and sex, or nearly."""
    payload = event.get("payload")
    if isinstance(payload, dict) and isinstance(payload.get("date_of_birth"), str):
        try:
            dob = date.fromisoformat(payload["date_of_birth"])
            sex = payload["sex"]
            pin = make_pin(draw(st.sampled_from(["001", "092", "101", "295"])), dob, sex, 1)
        except (KeyError, ValueError):
            return
        event["subject_pin"] = draw(st.sampled_from(_pin_forms(pin)))
        if draw(st.booleans()):
            payload["sex"] = draw(st.sampled_from(["MALE", "FEMALE"]))


def _same_old_pin(draw: st.DrawFn, event: Event) -> None:
    payload = event.get("payload")
    if isinstance(payload, dict) and "old_pin" in payload:
        payload["old_pin"] = event.get("subject_pin")


PIN_MUTATIONS = [_replace(PIN_KEYS, pins()), _identity_pin, _same_old_pin]


@MUTATION_SETTINGS
@given(_mutated(PIN_MUTATIONS))
def test_mutated_pins(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- names ----------------------------------------------------------------------------------

NAME_KEYS = ("family_name", "middle_name", "given_name")
WORDS = [*FAMILY_NAMES, *MIDDLE_NAMES, *GIVEN_NAMES]
DECORATIONS = ["{}", " {}", "{} ", "  {}  ", "\t{}\n", "\u00a0{}", "{}\u3000", "{}\u2028"]


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


SPECIAL_NAMES: list[Any] = [
    "Nguyễn",
    _nfd("Nguyễn"),
    " Nguyễn ",
    _nfd(" Nguyễn\u00a0"),
    "Nguyễn  Văn",
    "Nguyễn\tVăn",
    "Nguyễn\nVăn",
    _nfd("Nguyễn Văn"),
    "O'Neil",
    "H’Hen",
    "Jean-Pierre",
    "St. John",
    "An2",
    "２",
    "-",
    "'",
    ".",
    "",
    " ",
    "\u00a0",
    "\u0301An",
    "A\u0301",
    "Ａｎ",
    "Ǆ",
    "An😀",
    "An\u200b",
    "An\x00",
    "An\ud800",
    "A" * 100,
    "A" * 101,
    "Á" * 100,
    _nfd("Á" * 100),
    _nfd("Á" * 101),
    " " + "A" * 100 + " ",
    "ﬁ",
    "ʼAn",
    1,
    None,
    ["Nguyễn"],
    b"Nguyen",
    _Str("Nguyễn"),
]


def test_special_names_at_every_name_field() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event, path in _examples_with(NAME_KEYS):
            for value in SPECIAL_NAMES:
                yield _domain(event), _with(event, path, value)

    assert assert_sweep(cases()) > 0


names = st.one_of(
    st.sampled_from(SPECIAL_NAMES),
    st.builds(
        lambda word, form, decoration: decoration.format(unicodedata.normalize(form, word)),
        st.sampled_from(WORDS),
        st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"]),
        st.sampled_from(DECORATIONS),
    ),
    st.text(st.sampled_from([*"aAđĐễ\u0301\u0303 -'.’\u00a0\t2"]), max_size=8),
    st.text(max_size=6),
)
NAME_MUTATIONS = [_replace(NAME_KEYS, names)]


@MUTATION_SETTINGS
@given(_mutated(NAME_MUTATIONS))
def test_mutated_names(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- strings with a length or a pattern -----------------------------------------------------

MAX_LENGTHS = {
    "correlation_id": 100,
    "place_of_birth": 200,
    "hometown": 200,
    "ethnicity": 60,
    "place_of_death": 200,
    "street": 200,
    "household_id": 40,
    "relation_to_head": 40,
    "issuer": 120,
    "legal_instrument": 200,
}
"""Strings with only a maximum length (ResidenceDeregistered's `reason` too: see below)."""


def _texts_around(limit: int) -> list[Any]:
    decomposed = _nfd("ễ")  # three code points
    found: list[Any] = []
    for size in (limit - 1, limit, limit + 1):
        found += ["x" * size, "ễ" * size, "😀" * size, "\x00" * size]
    found += [
        decomposed * (limit // 3),
        decomposed * (limit // 3) + "xy",
        "x" * (limit - 1) + "\n",
        "x" * limit + "\n",
        "x" * (limit - 1) + "\ud800",
        "\ud800",
        "",
        " ",
        "Kinh",
        "a\r\nb",
        1,
        None,
        ["x"],
        b"x",
        _Str("x" * limit),
    ]
    return found


def _limited(event: Event) -> Iterator[tuple[Path, int]]:
    for path in _keyed(event, MAX_LENGTHS):
        yield path, MAX_LENGTHS[path[-1]]
    if event["event_type"] == "ResidenceDeregistered":
        yield ("payload", "reason"), 60


def test_strings_at_and_over_their_maximum_length() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event in [*EXAMPLES.values(), *VARIANTS]:
            for path, limit in _limited(event):
                for value in _texts_around(limit):
                    yield _domain(event), _with(event, path, value)

    assert assert_sweep(cases()) > 0


AGENCY_IDS = [
    "VN/GOV/BTP/hotich",
    "VN/GOV/BCA/cutru",
    "VN/GOV/BTP/hotich-2",
    "VN/GOV/B1/a",
    "VN/GOV/BTP/Hotich",
    "VN/gov/BTP/hotich",
    "VN/GOV/BTP/hộtịch",
    "VN/GOV/BTP/hotich\n",
    "VN/GOV/BTP/hotich ",
    "VN/GOV//hotich",
    "VN/GOV/BTP/",
    "XX/GOV/BTP/hotich",
    "VN/ĐGOV/BTP/hotich",
    "VN/GOV/BTP/hotich/x",
    "ＶＮ/GOV/BTP/hotich",
    "VN/GOV/BTP/hotich\ud800",
]
COUNTRY_CODES = [
    "VN",
    "JP",
    "ZZ",
    "vn",
    "Vn",
    "V",
    "VNM",
    "V1",
    "ĐN",
    "VN\n",
    " VN",
    "ＶＮ",
    "K",
    "",
]
DOCUMENT_NUMBERS = [
    "118/2025",
    "KT-0042/2025",
    "a.b-c/1",
    "A" * 40,
    "A" * 41,
    "1" * 40 + "\n",
    "A" * 39 + "\n",
    "118/2025 ",
    "118 2025",
    "118_2025",
    "Số-1",
    "１１８",
    "118\ud800",
    "",
]
CARD_NUMBERS = [
    "123456789",
    "036196115204",
    "12345678",
    "1234567890",
    "12345678901",
    "1234567890123",
    "123456789\n",
    "123456789012\n",
    "１２３４５６７８９",
    "١٢٣٤٥٦٧٨٩",
    "12345678a",
    "",
]
PATTERN_VALUES: dict[str, list[Any]] = {
    "source": AGENCY_IDS,
    "destination_country": COUNTRY_CODES,
    "certificate_number": DOCUMENT_NUMBERS,
    "decision_number": [*DOCUMENT_NUMBERS, None],
    "number": CARD_NUMBERS,
}
NON_STRINGS: list[Any] = [None, 1, b"VN", ["VN"], _Str("VN")]


def test_pattern_fields_valid_at_the_limit_and_broken() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event in [*EXAMPLES.values(), *VARIANTS]:
            for path in _keyed(event, PATTERN_VALUES):
                for value in [*PATTERN_VALUES[path[-1]], *NON_STRINGS]:
                    yield _domain(event), _with(event, path, value)
            for path in _keyed(event, ("nationalities",)):
                if _get(event, path) is None:
                    continue
                for code in [*COUNTRY_CODES, *NON_STRINGS]:
                    yield _domain(event), _with(event, path, [code])
                    yield _domain(event), _with(event, path, ["VN", code])
                for value in ([], ("VN",), "VN", ["VN"] * 5, None):
                    yield _domain(event), _with(event, path, value)

    assert assert_sweep(cases()) > 0


def _text_for(path: Path) -> st.SearchStrategy[Any]:
    limit = MAX_LENGTHS.get(path[-1], 60)
    return st.one_of(
        st.sampled_from(_texts_around(limit)),
        st.text(min_size=limit - 2, max_size=limit + 2),
        st.text(max_size=5),
    )


def _pattern_for(path: Path) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([*PATTERN_VALUES[path[-1]], *NON_STRINGS]),
        st.from_regex(r"\A[A-Za-z0-9/.\-]{1,41}\Z"),
        st.text(st.sampled_from([*"AZaz09/-.\nĐ ", "\ud800"]), max_size=42),
    )


def _reason_text(draw: st.DrawFn, event: Event) -> None:
    payload = event.get("payload")
    if event.get("event_type") == "ResidenceDeregistered" and isinstance(payload, dict):
        payload["reason"] = draw(_text_for(("reason",)))


def _nationalities(draw: st.DrawFn, event: Event) -> None:
    payload = event.get("payload")
    if isinstance(payload, dict) and "nationalities" in payload:
        codes = st.sampled_from(COUNTRY_CODES) | st.from_regex(r"\A[A-Z]{2}\Z")
        value = draw(st.lists(codes, max_size=3))
        payload["nationalities"] = tuple(value) if draw(st.booleans()) else value


STRING_MUTATIONS = [
    _replace(MAX_LENGTHS, _text_for),
    _replace(PATTERN_VALUES, _pattern_for),
    _reason_text,
    _nationalities,
]


@MUTATION_SETTINGS
@given(_mutated(STRING_MUTATIONS))
def test_mutated_strings(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- enums and the change type --------------------------------------------------------------

ENUMS: dict[str, list[type[StrEnum]]] = {
    "sex": [Sex],
    "change_type": [ChangeType],
    "card_type": [IdentityCardType],
    "residence_kind": [ResidenceKind],
    "reason": [DissolutionReason, ReestablishReason],
}


def _enum_values(enums: Sequence[type[StrEnum]]) -> list[Any]:
    found: list[Any] = []
    for enum in enums:
        for member in enum:
            found += [member.value, member, _Str(member.value), member.value.lower()]
            found.append(f" {member.value}")
            found.append(member.value.title())
    return [*found, "OTHER", "", 0, None, True, ["MALE"]]


ALL_ENUM_VALUES = _enum_values([e for enums in ENUMS.values() for e in enums])


def test_enum_fields_with_every_symbol_and_broken_ones() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event, path in _examples_with(ENUMS):
            for value in ALL_ENUM_VALUES:
                yield _domain(event), _with(event, path, value)

    assert assert_sweep(cases()) > 0


ABSENT = object()
"""A key left out."""


def test_change_type_with_and_without_the_event_it_corrects() -> None:
    change_types: list[Any] = [ABSENT, *_enum_values([ChangeType])]
    targets: list[Any] = [ABSENT, None, str(AN_ID), str(AN_ID).upper(), AN_ID, "", AN_ID.hex]

    def cases() -> Iterator[tuple[str, Any]]:
        for event in EXAMPLES.values():
            for change_type in change_types:
                for target in targets:
                    changed = copy.deepcopy(event)
                    for key, value in (("change_type", change_type), ("corrects_event_id", target)):
                        if value is ABSENT:
                            del changed[key]
                        else:
                            changed[key] = value
                    yield _domain(event), changed

    assert assert_sweep(cases()) > 0


def _enum_for(path: Path) -> st.SearchStrategy[Any]:
    return st.sampled_from(_enum_values(ENUMS[path[-1]])) | st.sampled_from(ALL_ENUM_VALUES)


def _change(draw: st.DrawFn, event: Event) -> None:
    for key, values in (
        ("change_type", st.sampled_from(_enum_values([ChangeType]))),
        ("corrects_event_id", st.none() | uuids),
    ):
        if draw(st.integers(0, 3)) == 0:
            event.pop(key, None)
        else:
            event[key] = draw(values)


ENUM_MUTATIONS = [_replace(ENUMS, _enum_for), _change]


@MUTATION_SETTINGS
@given(_mutated(ENUM_MUTATIONS))
def test_mutated_enums_and_change_types(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- administrative units -------------------------------------------------------------------

UNIT_KEYS = ("place_of_birth_registration", "registered_at", "unit")
SCHEMES = ["VN-34", "VN-63", "vn-34", "VN-99", ""]
PROVINCES = ["01", "02", "08", "36", "79", "99", "1", "001", "٠١", ""]
DISTRICTS: list[Any] = [ABSENT, None, "356", "01", "0001", "٣٥٦", "", 356]
COMMUNES: list[Any] = [ABSENT, None, "00004", "0004", "000004", "٠٠٠٠٤", ""]


def _unit(scheme: Any, province: Any, district: Any, commune: Any) -> dict[str, Any]:
    unit = {"scheme": scheme, "province_code": province}
    for key, value in (("district_code", district), ("commune_code", commune)):
        if value is not ABSENT:
            unit[key] = value
    return unit


def test_administrative_units_of_every_form() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event, path in _examples_with(UNIT_KEYS):
            for scheme in SCHEMES[:4]:
                for province in PROVINCES:
                    for district in DISTRICTS:
                        for commune in COMMUNES[:4]:
                            unit = _unit(scheme, province, district, commune)
                            yield _domain(event), _with(event, path, unit)

    assert assert_sweep(cases()) > 0


CUTOVER_INSTANTS = [
    "2025-06-30T16:59:59Z",
    "2025-06-30T17:00:00Z",
    "2025-06-30T23:59:59+07:00",
    "2025-07-01T00:00:00+07:00",
    "2025-06-30T23:59:59.999999+07:00",
    "2025-06-30T12:30:00-05:00",
    "2025-07-01T00:00:00Z",
    "2025-07-01T06:59:59+14:00",
]
CUTOVER_DATES = ["2025-06-30", "2025-07-01", "2025-07-02", "2025-06-29"]
UNITS_AROUND_CUTOVER = [
    _unit("VN-34", "01", ABSENT, "00004"),
    _unit("VN-34", "08", None, None),
    _unit("VN-34", "02", None, None),  # a VN-63 province only
    _unit("VN-63", "36", "356", "13669"),
    _unit("VN-63", "02", ABSENT, ABSENT),
    _unit("VN-63", "79", "760", None),
    _unit("VN-34", "01", "001", None),
]


def test_units_on_either_side_of_the_vn34_cutover() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        birth = EXAMPLES["BirthRegistered"]
        for unit in UNITS_AROUND_CUTOVER:
            for instant in CUTOVER_INSTANTS:
                changed = _with(birth, ("payload", "place_of_birth_registration"), unit)
                changed["occurred_at"] = instant
                yield "civil-status", changed
            for event_type in ("PermanentResidenceRegistered", "TemporaryResidenceRegistered"):
                event = EXAMPLES[event_type]
                for day in CUTOVER_DATES:
                    changed = _with(event, ("payload", "address", "unit"), unit)
                    changed["payload"]["registered_on"] = day
                    yield "residence", changed
            marriage = _with(EXAMPLES["MarriageRegistered"], ("payload", "registered_at"), unit)
            yield "civil-status", marriage

    assert assert_sweep(cases()) > 0


@st.composite
def units(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(UNITS_AROUND_CUTOVER))
    vn34 = draw(st.booleans())
    table = VN34_PROVINCES if vn34 else VN63_PROVINCES
    province = draw(st.sampled_from(sorted(table)) | st.sampled_from(PROVINCES))
    return _unit(
        draw(st.sampled_from(["VN-34" if vn34 else "VN-63", *SCHEMES])),
        province,
        draw(st.sampled_from(DISTRICTS) | st.from_regex(r"\A[0-9]{3}\Z")),
        draw(st.sampled_from(COMMUNES) | st.from_regex(r"\A[0-9]{5}\Z")),
    )


def _cutover_dates(draw: st.DrawFn, event: Event) -> None:
    payload = event.get("payload")
    if event.get("event_type") == "BirthRegistered":
        instants = st.sampled_from(CUTOVER_INSTANTS) | _instant_texts
        event["occurred_at"] = draw(instants)
    elif isinstance(payload, dict) and "registered_on" in payload:
        payload["registered_on"] = draw(st.sampled_from(CUTOVER_DATES) | dates)


UNIT_MUTATIONS = [_replace(UNIT_KEYS, units()), _cutover_dates]


@MUTATION_SETTINGS
@given(_mutated(UNIT_MUTATIONS))
def test_mutated_administrative_units(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- structure ------------------------------------------------------------------------------


class _Dict(dict[str, Any]):
    """A dict subclass: pydantic reads it as a dict, the checker takes only `dict` itself."""


def _containers(value: Any) -> list[Any]:
    """Other containers in place of a dict or a list."""
    if isinstance(value, dict):
        return [
            dict(reversed(value.items())),  # the same record, keys in another order
            OrderedDict(value),
            _Dict(value),
            list(value.items()),
            list(value.values()),
            str(value),
            [value],
            {**value, "extra": None},
            {**value, "extra": "x"},
            {**value, 1: "x"},
            {},
        ]
    if isinstance(value, list):
        return [tuple(value), [], [*value, *value], [*value, None], value[:1], set(map(str, value))]
    return []


def _structure_cases(event: Event) -> Iterator[Event]:
    yield _Dict(event)
    yield OrderedDict(event)
    yield {**event, "extra": None}
    yield {**event, "Event_ID": event["event_id"]}
    for path in list(_paths(event)):
        yield _with(event, path, None)
        if isinstance(_get(event, path[:-1]), dict):
            yield _without(event, path)
        for value in _containers(_get(event, path)):
            yield _with(event, path, value)
        current = _get(event, path)
        if type(current) is str:
            yield _with(event, path, _Str(current))
    for event_type in EXAMPLES:
        yield {**event, "event_type": event_type}
        other = EXAMPLES[event_type]["payload"]
        yield {**event, "payload": copy.deepcopy(other)}
        yield {**event, "payload": (f"vn.gov.databus.x.{event_type}", copy.deepcopy(other))}
    yield {**event, "payload": ("vn.gov.databus.x", copy.deepcopy(event["payload"]))}
    yield {**event, "event_type": event["event_type"].lower()}


def test_structure_extra_missing_none_and_other_containers() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        for event in [*EXAMPLES.values(), *VARIANTS]:
            for changed in _structure_cases(event):
                yield _domain(event), changed

    assert assert_sweep(cases()) > 0


def test_encode_refuses_what_is_not_a_dict() -> None:
    values: list[Any] = [None, [], "event", OrderedDict(), _Dict(), ()]
    for paths in PATHS.values():
        for value in values:
            out = bytearray(HEAD)
            assert not paths.fast.encode(value, out)
            assert bytes(out) == HEAD


def _restructure(draw: st.DrawFn, event: Event) -> None:
    found = list(_paths(event))
    if not found:
        return
    path = draw(st.sampled_from(found))
    parent = _get(event, path[:-1])
    action = draw(st.integers(0, 3))
    if action == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == 1:
        parent[path[-1]] = None
    else:
        current = parent[path[-1]]
        others = _containers(current)
        if type(current) is str:
            others.append(_Str(current))
        if others:
            parent[path[-1]] = draw(st.sampled_from(others))


def _extra_key(draw: st.DrawFn, event: Event) -> None:
    records = [event, *(v for p in _paths(event) if isinstance(v := _get(event, p), dict))]
    record = draw(st.sampled_from(records))
    record[draw(st.sampled_from(["extra", "", "Payload", "name "]))] = draw(st.none() | st.text())


def _other_payload(draw: st.DrawFn, event: Event) -> None:
    other = copy.deepcopy(EXAMPLES[draw(st.sampled_from(sorted(EXAMPLES)))]["payload"])
    if draw(st.booleans()):
        event["payload"] = other
    else:
        event["payload"] = (draw(st.text(max_size=3)), event.get("payload", other))


STRUCTURE_MUTATIONS = [_restructure, _extra_key, _other_payload]


@MUTATION_SETTINGS
@given(_mutated(STRUCTURE_MUTATIONS))
def test_mutated_structure(case: tuple[str, Event]) -> None:
    _check_mutated(case)


# --- all of them together -------------------------------------------------------------------

ALL_MUTATIONS = [
    *TIMESTAMP_MUTATIONS,
    *DATE_MUTATIONS,
    *UUID_MUTATIONS,
    *PIN_MUTATIONS,
    *NAME_MUTATIONS,
    *STRING_MUTATIONS,
    *ENUM_MUTATIONS,
    *UNIT_MUTATIONS,
    *STRUCTURE_MUTATIONS,
]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated(ALL_MUTATIONS, most=4))
def test_mutations_of_every_kind_combined(case: tuple[str, Event]) -> None:
    _check_mutated(case)
