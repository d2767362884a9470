"""Who may talk to the broker: one principal per agency of the topology, one per bus component,
and the admin of the bus's own tooling (DESIGN.md §8).

Names are valid SCRAM user names and Kubernetes names (lower-case letters, digits, '.', '-'), so
the same derivation names Strimzi `KafkaUser`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from databus.topology.model import Topology

ADMIN_PRINCIPAL: Final = "bus.admin"
POPULATION_SYNC: Final = "bus.population-sync"
OUTBOX_RELAY: Final = "bus.outbox-relay"
ROUTER: Final = "bus.sector-router"
VERIFIER: Final = "bus.verifier"
USAGE_RECORDER: Final = "bus.data-usage"
MONITOR: Final = "bus.monitor"
SINK_PREFIX: Final = "bus.sink."

PrincipalKind = Literal["agency", "component", "admin"]


@dataclass(frozen=True)
class Principal:
    """A Kafka user: `name` is the SCRAM user (`User:<name>` in ACLs)."""

    name: str
    kind: PrincipalKind
    agency: str | None = None
    """The topology agency id, for agencies."""
    description: str = ""


def agency_principal(agency_id: str) -> str:
    """The principal of an agency: `VN/GOV/BTP/hotich` -> `vn.gov.btp.hotich`."""
    return agency_id.replace("/", ".").lower()


def sink_principal(sector: str) -> str:
    """The principal of the sink that fills `sector`'s database."""
    return f"{SINK_PREFIX}{sector}"


_COMPONENT_PRINCIPALS: Final = {
    "population-sync": POPULATION_SYNC,
    "outbox-relay": OUTBOX_RELAY,
    "router": ROUTER,
    "verifier": VERIFIER,
    "usage-recorder": USAGE_RECORDER,
    "monitor": MONITOR,
}


def component_principal(component: str) -> str:
    """The principal a running component (its metrics `component` label: `population-sync`,
    `sink-<sector>`, ...) authenticates as."""
    if component.startswith("sink-"):
        return sink_principal(component.removeprefix("sink-"))
    try:
        return _COMPONENT_PRINCIPALS[component]
    except KeyError:
        raise ValueError(f"no principal for component {component!r}") from None


def bus_principals(topology: Topology) -> list[Principal]:
    """Every principal the topology implies, agencies first, then components, then the admin."""
    out = [Principal(agency_principal(a.id), "agency", a.id, a.name) for a in topology.agencies]
    components = [
        (POPULATION_SYNC, "applies source events to the NPD"),
        (OUTBOX_RELAY, "publishes the NPD outbox (population changes)"),
        (ROUTER, "projects population changes to the sectors"),
        *[(sink_principal(s), f"fills the {s} database") for s in topology.sectors],
        (VERIFIER, "answers the sectors' verification requests"),
        (USAGE_RECORDER, "records every release of data"),
        (MONITOR, "watches lag, heartbeats and connection health"),
    ]
    out += [Principal(name, "component", None, text) for name, text in components]
    out.append(Principal(ADMIN_PRINCIPAL, "admin", None, "the bus's own tooling (super user)"))
    return out
