"""The generator's people and the JSON records built from them (docs/events.md form).

Builders write the JSON form directly, field for field as `model_dump(mode="json")` would, so the
generator needs no pydantic round trip per record (the tests validate every line). Times are kept
as integer *local seconds*: Vietnam time (UTC+07:00) seconds since 0001-01-01, so that
`ts // 86400` is a date ordinal and every timestamp prints with the `+07:00` offset.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any, Final

DAY: Final = 86_400
OFFICE_OPEN: Final = 7 * 3600 + 30 * 60  # 07:30
OFFICE_HOURS: Final = 9 * 3600 + 30 * 60  # until 17:00

Record = dict[str, Any]
"""A JSON object in the form of docs/events.md."""


def between(rng: random.Random, low: int, high: int) -> int:
    """A random integer in [low, high], like `rng.randint` but several times faster."""
    return low + int(rng.random() * (high - low + 1))


def below(rng: random.Random, n: int) -> int:
    """A random integer in [0, n), like `rng.randrange(n)` but several times faster."""
    return int(rng.random() * n)


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 1 March)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


_TIMES: list[str] = []


def _times_of_day() -> list[str]:
    """`THH:MM:SS+07:00` of every second of a day, built once."""
    if not _TIMES:
        _TIMES.extend(
            f"T{h:02d}:{m:02d}:{sec:02d}+07:00"
            for h in range(24)
            for m in range(60)
            for sec in range(60)
        )
    return _TIMES


class Clock:
    """Formats local seconds as ISO 8601 with the +07:00 offset, from cached parts."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._times = _times_of_day()

    def iso_day(self, ordinal: int) -> str:
        """`YYYY-MM-DD` of a date ordinal."""
        text = self._days.get(ordinal)
        if text is None:
            text = date.fromordinal(ordinal).isoformat()
            self._days[ordinal] = text
        return text

    def stamp(self, ts: int) -> str:
        """`YYYY-MM-DDTHH:MM:SS+07:00` of local seconds."""
        day, sec = divmod(ts, DAY)
        text = self._days.get(day)
        if text is None:
            text = self.iso_day(day)
        return text + self._times[sec]


def office_time(rng: random.Random, ordinal: int) -> int:
    """Local seconds of a random moment of office hours on a day."""
    return ordinal * DAY + OFFICE_OPEN + int(rng.random() * OFFICE_HOURS)


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng` (deterministic, never `uuid4()`)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (4 << 76)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Household:
    """A household (hộ): its id, head, members and where it lives."""

    __slots__ = ("formed", "head", "id", "location", "members", "street")

    def __init__(self, head: Person, location: int, street: str, formed: int) -> None:
        self.id = ""
        self.head = head
        self.location = location
        self.street = street
        self.formed = formed  # date ordinal the household was registered
        self.members: list[Person] = []

    def join(self, person: Person, relation: str) -> None:
        """Make `person` a member with this relation to the head (leaving any other household)."""
        old = person.household
        if old is not None and old is not self:
            old.members.remove(person)
        if person.household is not self:
            self.members.append(person)
        person.household = self
        person.relation = relation
        person.location = self.location
        person.street = self.street


class Person:
    """One person of the synthetic world, in or out of the population database.

    `name` is a PersonName JSON object, replaced (never mutated) on a change, so references
    built earlier keep the name as it was. Times are local seconds; `*_src` are the event ids
    that set the current name, residence or card (for corrections and annulments).
    """

    __slots__ = (
        "active",
        "address",
        "alive",
        "birth_unit",
        "card",
        "card_src",
        "children",
        "death_ord",
        "dob",
        "dob_ord",
        "ethnicity",
        "father",
        "father_ref",
        "hometown",
        "household",
        "idx",
        "joined_ord",
        "last_birth_ord",
        "last_occ",
        "last_rec",
        "location",
        "marital",
        "married_ord",
        "mother",
        "mother_ref",
        "name",
        "name_src",
        "perm_src",
        "pin",
        "pin_history",
        "pin_place",
        "place_of_birth",
        "relation",
        "sex",
        "spouse",
        "street",
        "temp",
        "temp_src",
        "temp_until",
    )

    def __init__(self, name: Record, dob: date, sex: str, ethnicity: str, hometown: str) -> None:
        self.idx = -1
        self.pin = ""
        self.pin_place = ""  # PIN place code of the birth registration
        self.joined_ord = 0  # date ordinal the person joined their household
        self.pin_history: list[Record] = []
        self.name = name
        self.dob = dob
        self.dob_ord = dob.toordinal()
        self.sex = sex
        self.ethnicity = ethnicity
        self.hometown = hometown
        self.place_of_birth = ""
        self.birth_unit: Record = {}
        self.father: Person | None = None
        self.mother: Person | None = None
        self.father_ref: Record | None = None  # a name-only reference when no Person exists
        self.mother_ref: Record | None = None
        self.spouse: Person | None = None
        self.marital = "SINGLE"
        self.married_ord = 0
        self.children: list[Person] = []
        self.household: Household | None = None
        self.relation = ""
        self.location = -1
        self.street = ""
        self.address: Record | None = None  # permanent residence as last registered
        self.temp: Record | None = None
        self.temp_until = 0
        self.card: Record | None = None
        self.death_ord = 0
        self.alive = True
        self.active = True  # alive and living in Viet Nam
        self.last_rec = 0
        self.last_occ = 0
        self.last_birth_ord = 0
        self.name_src = ""
        self.perm_src = ""
        self.temp_src = ""
        self.card_src = ""

    def in_database(self) -> bool:
        """Whether the person is a citizen of the population database (has a PIN)."""
        return bool(self.pin)

    def ref(self) -> Record:
        """A PersonRef: the PIN when known and the current name."""
        return {"pin": self.pin or None, "name": self.name}


class Pool:
    """People to draw from at random, with O(1) add, remove and draw."""

    __slots__ = ("_items", "_pos")

    def __init__(self) -> None:
        self._items: list[Person] = []
        self._pos: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, person: Person) -> bool:
        return person.idx in self._pos

    def add(self, person: Person) -> None:
        """Add a person (no effect if present)."""
        if person.idx not in self._pos:
            self._pos[person.idx] = len(self._items)
            self._items.append(person)

    def discard(self, person: Person) -> None:
        """Remove a person (no effect if absent)."""
        at = self._pos.pop(person.idx, None)
        if at is None:
            return
        last = self._items.pop()
        if at < len(self._items):
            self._items[at] = last
            self._pos[last.idx] = at

    def pick(self, rng: random.Random) -> Person | None:
        """A person drawn uniformly, or None when empty."""
        items = self._items
        return items[int(rng.random() * len(items))] if items else None


def name_record(family: str, middle: str | None, given: str) -> Record:
    """A PersonName JSON object."""
    return {"family_name": family, "middle_name": middle, "given_name": given}


def address_record(unit: Record, street: str | None) -> Record:
    """An Address JSON object."""
    return {"unit": unit, "street": street}


def card_record(
    card_type: str, number: str, issued: date, expires: date | None, issuer: str
) -> Record:
    """An IdentityCard JSON object."""
    return {
        "card_type": card_type,
        "number": number,
        "issued_on": issued.isoformat(),
        "expires_on": expires.isoformat() if expires else None,
        "issuer": issuer,
    }


CAN_CUOC_FROM: Final = date(2024, 7, 1)
"""The Law on Identification 2023 took effect: căn cước cards replace CCCD cards."""
_ISSUER_CCCD: Final = "Cục Cảnh sát QLHC về TTXH"
_ISSUER_CAN_CUOC: Final = "Bộ Công an"
_CARD_AGES: Final = (14, 25, 40, 60)


def card_for(person: Person, issued: date) -> Record:
    """The card issued to `person` on `issued`: CCCD before July 2024, căn cước after.

    The number is the PIN. A card must be renewed at 25, 40 and 60, unless issued within the two
    years before that age (then it is valid until the next one); from 58 it is valid for life.
    A căn cước issued before 14 is valid until 14.
    """
    card_type, issuer = (
        ("CAN_CUOC", _ISSUER_CAN_CUOC) if issued >= CAN_CUOC_FROM else ("CCCD", _ISSUER_CCCD)
    )
    expires: date | None = None
    for age in _CARD_AGES:
        birthday = add_years(person.dob, age)
        if birthday <= issued:
            continue
        if age == _CARD_AGES[0] or add_years(issued, 2) < birthday:
            expires = birthday
            break
    return card_record(card_type, person.pin, issued, expires, issuer)


def citizen_record(person: Person) -> Record:
    """The Citizen JSON object of a person, in the field order of `schemas.models.Citizen`."""
    name = person.name
    spouse = person.spouse
    household = person.household
    return {
        "pin": person.pin,
        "pin_history": person.pin_history,
        "old_id_number": None,
        "family_name": name["family_name"],
        "middle_name": name["middle_name"],
        "given_name": name["given_name"],
        "other_names": [],
        "date_of_birth": person.dob.isoformat(),
        "sex": person.sex,
        "place_of_birth": person.place_of_birth,
        "place_of_birth_registration": person.birth_unit,
        "hometown": person.hometown,
        "ethnicity": person.ethnicity,
        "religion": None,
        "nationalities": ["VN"],
        "blood_type": None,
        "identity_card": person.card,
        "marital_status": person.marital,
        "father": parent_ref(person.father, person.father_ref),
        "mother": parent_ref(person.mother, person.mother_ref),
        "spouse": spouse.ref() if spouse is not None and person.marital == "MARRIED" else None,
        "children": [child.ref() for child in person.children if child.in_database()],
        "guardian": None,
        "legal_representative": None,
        "household_id": household.id if household else None,
        "relation_to_head": person.relation or None,
        "permanent_residence": person.address,
        "temporary_residence": person.temp,
        "current_residence": None,
        "date_of_death": None,
        "missing_since": None,
        "mobile_number": None,
        "email": None,
        "occupation": None,
    }


def parent_ref(parent: Person | None, name_only: Record | None) -> Record | None:
    """A parent's reference: the person's (with PIN if in the database) or a name-only one."""
    if parent is not None:
        return parent.ref()
    return name_only


Emit = Callable[[int, str, Record], None]
"""Where events go: `emit(recorded_at local seconds, event_type, event)`."""


class EventFactory:
    """Builds envelopes (id, source agency, timestamps) and hands each event to the sink."""

    def __init__(self, rng: random.Random, agencies: dict[str, str], emit: Emit) -> None:
        self.rng = rng
        self.clock = Clock()
        self._agencies = agencies
        self._emit = emit

    def __call__(
        self,
        event_type: str,
        subject: str | None,
        occurred: int,
        recorded: int,
        payload: Record,
        *,
        correlation: str | None = None,
        change: str = "CREATED",
        corrects: str | None = None,
    ) -> str:
        """Emit one event; returns its id."""
        event_id = new_uuid(self.rng)
        stamp = self.clock.stamp
        self._emit(
            recorded,
            event_type,
            {
                "event_id": event_id,
                "event_type": event_type,
                "source": self._agencies[event_type],
                "subject_pin": subject,
                "change_type": change,
                "corrects_event_id": corrects,
                "occurred_at": stamp(occurred),
                "recorded_at": stamp(recorded),
                "correlation_id": correlation,
                "payload": payload,
            },
        )
        return event_id

    def iso_day(self, ordinal: int) -> str:
        """`YYYY-MM-DD` of a date ordinal."""
        return self.clock.iso_day(ordinal)
