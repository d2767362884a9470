"""Pydantic model of `deploy/topology.yaml`, the single source of truth (DESIGN.md §3).

The model checks each value on its own (names, ranges, known citizen fields and event types);
`databus.topology.loader` adds the checks across sections (references, duplicates, coverage).
"""

from __future__ import annotations

import base64
import difflib
import re
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from databus.topology.errors import TopologyError, TopologyProblem
from schemas.event_types import EVENT_TYPE_NAMES
from schemas.fields import CITIZEN_FIELD_NAMES

_AGENCY_RE = re.compile(r"^VN/GOV/[A-Z][A-Z0-9]*/[a-z][a-z0-9-]*$")
_SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_TOPIC_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.v[1-9][0-9]*$")
_ENV_VAR_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_ENDPOINT_RE = re.compile(r"^(population|(source|sector):[a-z][a-z0-9]*(-[a-z0-9]+)*)$")

SLUG_MAX_LENGTH = 64


def _did_you_mean(value: str, choices: frozenset[str]) -> str:
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _citizen_field(value: str) -> str:
    if value not in CITIZEN_FIELD_NAMES:
        raise PydanticCustomError(
            "unknown_citizen_field",
            "unknown citizen field {name}{hint}",
            {"name": repr(value), "hint": _did_you_mean(value, CITIZEN_FIELD_NAMES)},
        )
    return value


def _event_type(value: str) -> str:
    if value not in EVENT_TYPE_NAMES:
        raise PydanticCustomError(
            "unknown_event_type",
            "unknown event type {name} (not in schemas/event_types.py){hint}",
            {"name": repr(value), "hint": _did_you_mean(value, EVENT_TYPE_NAMES)},
        )
    return value


def _agency_id(value: str) -> str:
    if not _AGENCY_RE.match(value):
        raise PydanticCustomError(
            "agency_id",
            "agency id {value} must look like VN/GOV/<MEMBER>/<subsystem>, e.g. VN/GOV/BTP/hotich",
            {"value": repr(value)},
        )
    return value


def _slug(value: str) -> str:
    if not _SLUG_RE.match(value) or len(value) > SLUG_MAX_LENGTH:
        raise PydanticCustomError(
            "slug",
            "{value} must be a short lowercase slug like 'social-insurance' "
            "(letters, digits, single dashes; at most {max} characters)",
            {"value": repr(value), "max": SLUG_MAX_LENGTH},
        )
    return value


def _topic_name(value: str) -> str:
    if not _TOPIC_RE.match(value):
        raise PydanticCustomError(
            "topic_name",
            "topic {value} must be named <domain>.<dataset>.v<major>, e.g. civilstatus.events.v1",
            {"value": repr(value)},
        )
    return value


def _env_var(value: str) -> str:
    if "://" in value or not _ENV_VAR_RE.match(value):
        raise PydanticCustomError(
            "env_var",
            "must be the NAME of an environment variable holding the URL "
            "(e.g. DATABUS_TAX_DATABASE_URL), never the URL itself",
            {},
        )
    return value


def _endpoint(value: str) -> str:
    if not _ENDPOINT_RE.match(value):
        raise PydanticCustomError(
            "endpoint",
            "{value} must be 'population', 'source:<name>' or 'sector:<name>'",
            {"value": repr(value)},
        )
    return value


CitizenFieldName = Annotated[str, AfterValidator(_citizen_field)]
"""A name from `schemas.fields.CITIZEN_FIELDS`."""
EventTypeName = Annotated[str, AfterValidator(_event_type)]
"""A name from `schemas.event_types.EVENT_TYPES`."""
AgencyId = Annotated[str, AfterValidator(_agency_id)]
"""An X-Road style member/subsystem name, `VN/GOV/<MEMBER>/<subsystem>`."""
Slug = Annotated[str, AfterValidator(_slug)]
"""A short lowercase name usable inside topic names and metric labels."""
TopicName = Annotated[str, AfterValidator(_topic_name)]
EnvVarName = Annotated[str, AfterValidator(_env_var)]
EndpointRef = Annotated[str, AfterValidator(_endpoint)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class TopicRole(StrEnum):
    """What a topic is for; topic defaults can be overridden per role."""

    SOURCE = "source"
    POPULATION_CHANGES = "population-changes"
    POPULATION_CITIZENS = "population-citizens"
    SECTOR_CITIZENS = "sector-citizens"
    VERIFICATION_REQUESTS = "verification-requests"
    VERIFICATION_RESULTS = "verification-results"
    DEAD_LETTER = "dead-letter"
    DATA_USAGE = "data-usage"
    HEARTBEATS = "heartbeats"
    CONNECTION_STATUS = "connection-status"

    @property
    def compacted(self) -> bool:
        """Whether topics of this role keep only the latest record per key."""
        return self in (TopicRole.POPULATION_CITIZENS, TopicRole.SECTOR_CITIZENS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _ed25519_public_key(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("must be an Ed25519 public key: 32 bytes in base64")
    return value


class SigningKey(_Strict):
    """A public key an agency signs its events with (its private key stays in its secrets)."""

    id: Annotated[str, AfterValidator(_slug)]
    public_key: Annotated[str, AfterValidator(_ed25519_public_key)]


class Agency(_Strict):
    """A member of the exchange: a ministry's subsystem that publishes or receives data."""

    id: AgencyId
    name: NonEmptyStr
    description: str = ""
    signing_keys: tuple[SigningKey, ...] = Field(
        default=(), max_length=2, description="Active signing keys: two during a rotation."
    )

    @property
    def member(self) -> str:
        """The member code, e.g. `BTP`."""
        return self.id.split("/")[2]

    @property
    def subsystem(self) -> str:
        """The subsystem code, e.g. `hotich`."""
        return self.id.split("/")[3]


class Population(_Strict):
    """The National Population Database: its owner and where its database is."""

    agency: AgencyId
    database_url_env: EnvVarName
    description: str = ""


class Source(_Strict):
    """An agency that publishes change events to one topic."""

    agency: AgencyId
    description: str = ""
    topic: TopicName
    event_types: tuple[EventTypeName, ...] = Field(min_length=1)
    authoritative_for: tuple[CitizenFieldName, ...] = ()
    heartbeat_interval_seconds: float = Field(gt=0)


class LegalBasis(_Strict):
    """The instrument and article that allow a sector to receive or verify data."""

    instrument: NonEmptyStr
    article: NonEmptyStr
    note: str = ""

    def __str__(self) -> str:
        return f"{self.instrument}, {self.article}"


class Verification(_Strict):
    """Whether a sector may verify claims against the NPD, which fields, and how fast.

    `rate_per_second` caps how many of the sector's requests the verifier answers per second
    (requests above it wait, never dropped); unset: no cap.
    """

    enabled: bool = False
    fields: tuple[CitizenFieldName, ...] = Field(default=(), validate_default=True)
    rate_per_second: float | None = Field(default=None, gt=0)

    @field_validator("fields")
    @classmethod
    def _fields_when_enabled(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if info.data.get("enabled") and not value:
            raise PydanticCustomError(
                "verification_fields", "verification is enabled but lists no fields", {}
            )
        return value


def _non_empty_legal_basis(value: tuple[LegalBasis, ...]) -> tuple[LegalBasis, ...]:
    if not value:
        raise PydanticCustomError(
            "legal_basis", "a sector needs a legal basis (instrument and article)", {}
        )
    return value


class Sector(_Strict):
    """A receiving sector: its lawful projection, legal basis and database."""

    agency: AgencyId
    description: str = ""
    allowed_fields: tuple[CitizenFieldName, ...] = Field(min_length=1)
    legal_basis: Annotated[tuple[LegalBasis, ...], AfterValidator(_non_empty_legal_basis)] = Field(
        default=(), validate_default=True
    )
    database_url_env: EnvVarName
    on_deceased: Literal["mark", "delete"]
    verification: Verification = Verification()


class Freshness(_Strict):
    """`percentile` % of events must arrive within `seconds` of the real-world event."""

    seconds: float = Field(gt=0)
    percentile: float = Field(gt=0, le=100)


class Objectives(_Strict):
    """Service objectives of one connection."""

    freshness: Freshness
    heartbeat_interval_seconds: float = Field(gt=0)


class Owners(_Strict):
    """The agency answerable for each side of a connection."""

    from_: AgencyId = Field(alias="from")
    to: AgencyId


class Endpoint(NamedTuple):
    """One side of a connection: `population`, or a source or sector by name."""

    kind: Literal["population", "source", "sector"]
    name: str | None


class Connection(_Strict):
    """A monitored flow: source → population, or population → sector."""

    from_: EndpointRef = Field(alias="from")
    to: EndpointRef
    description: str = ""
    objectives: Objectives
    owners: Owners

    @property
    def upstream(self) -> Endpoint:
        """The publishing side."""
        return parse_endpoint(self.from_)

    @property
    def downstream(self) -> Endpoint:
        """The receiving side."""
        return parse_endpoint(self.to)


def parse_endpoint(value: str) -> Endpoint:
    """Split `source:civil-status` into its kind and name (`population` has no name)."""
    if value == "population":
        return Endpoint("population", None)
    kind, _, name = value.partition(":")
    if kind == "source":
        return Endpoint("source", name)
    if kind == "sector":
        return Endpoint("sector", name)
    raise ValueError(f"not a connection endpoint: {value!r}")


def _topic_role(value: str) -> str:
    roles = [r.value for r in TopicRole]
    if value not in roles:
        raise PydanticCustomError(
            "topic_role",
            "unknown topic role {value} (known: {roles})",
            {"value": repr(value), "roles": ", ".join(roles)},
        )
    return value


class RoleOverride(_Strict):
    """Topic settings that differ from the environment's defaults for one role."""

    partitions: int | None = Field(default=None, gt=0)
    retention_ms: int | None = Field(default=None, ge=-1)
    min_insync_replicas: int | None = Field(default=None, gt=0)


class TopicDefaults(_Strict):
    """Topic settings of one environment (local, production, ...)."""

    partitions: int = Field(gt=0)
    replication_factor: int = Field(gt=0)
    min_insync_replicas: int = Field(gt=0)
    retention_ms: int = Field(ge=-1, description="-1 keeps records forever")
    roles: dict[Annotated[str, AfterValidator(_topic_role)], RoleOverride] = {}

    @model_validator(mode="after")
    def _isr_fits(self) -> TopicDefaults:
        for role, override in {"": None, **self.roles}.items():
            isr = (override.min_insync_replicas if override else None) or self.min_insync_replicas
            if isr > self.replication_factor:
                where = f" of role {role!r}" if role else ""
                raise PydanticCustomError(
                    "min_isr",
                    "min_insync_replicas{where} ({isr}) exceeds replication_factor "
                    "({rf}): no write could ever succeed",
                    {"where": where, "isr": isr, "rf": self.replication_factor},
                )
        return self

    def for_role(self, role: TopicRole) -> tuple[int, int, int]:
        """Return (partitions, min_insync_replicas, retention_ms) for topics of `role`."""
        override = self.roles.get(role.value)
        partitions = (override.partitions if override else None) or self.partitions
        isr = (override.min_insync_replicas if override else None) or self.min_insync_replicas
        retention = self.retention_ms
        if override is not None and override.retention_ms is not None:
            retention = override.retention_ms
        return partitions, isr, retention


class Topology(_Strict):
    """The whole topology: agencies, sources, sectors, connections and topic defaults."""

    version: Literal[1] = 1
    population: Population
    agencies: tuple[Agency, ...] = Field(min_length=1)
    sources: dict[Slug, Source] = Field(min_length=1)
    sectors: dict[Slug, Sector] = {}
    connections: dict[Slug, Connection] = {}
    topic_defaults: dict[Slug, TopicDefaults] = Field(min_length=1)

    def agency(self, agency_id: str) -> Agency:
        """Return the agency with this id; `KeyError` if none."""
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(f"unknown agency {agency_id!r}")

    def source(self, name: str) -> Source:
        """Return the source called `name`; `KeyError` listing the known ones if none."""
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"unknown source {name!r} (known: {', '.join(self.sources)})") from None

    def sector(self, name: str) -> Sector:
        """Return the sector called `name`; `KeyError` listing the known ones if none."""
        try:
            return self.sectors[name]
        except KeyError:
            raise KeyError(f"unknown sector {name!r} (known: {', '.join(self.sectors)})") from None

    def source_of_event_type(self, event_type: str) -> str:
        """Return the name of the source that publishes `event_type`; `KeyError` if none."""
        for name, source in self.sources.items():
            if event_type in source.event_types:
                return name
        raise KeyError(f"no source publishes event type {event_type!r}")

    def source_of_topic(self, topic: str) -> str:
        """Return the name of the source whose (unprefixed) topic is `topic`; `KeyError` if none."""
        for name, source in self.sources.items():
            if source.topic == topic:
                return name
        raise KeyError(f"no source publishes to topic {topic!r}")

    def authority_for(self, field: str) -> str | None:
        """Return the name of the source authoritative for a citizen field, or None."""
        for name, source in self.sources.items():
            if field in source.authoritative_for:
                return name
        return None

    def defaults_for(self, environment: str) -> TopicDefaults:
        """Topic defaults of `environment`; a `TopologyError` if the topology has none."""
        try:
            return self.topic_defaults[environment]
        except KeyError:
            known = ", ".join(self.topic_defaults)
            raise TopologyError(
                [
                    TopologyProblem(
                        "topic_defaults",
                        f"no topic defaults for environment {environment!r} (defined: {known})",
                    )
                ]
            ) from None

    def connections_of_sector(self, sector: str) -> dict[str, Connection]:
        """Connections that deliver to `sector`, by name."""
        return {
            n: c for n, c in self.connections.items() if c.downstream == Endpoint("sector", sector)
        }

    def connections_of_source(self, source: str) -> dict[str, Connection]:
        """Connections that carry `source`'s events, by name."""
        return {
            n: c for n, c in self.connections.items() if c.upstream == Endpoint("source", source)
        }
