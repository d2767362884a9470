"""`databus demo`: the main job on the embedded default, narrated step by step.

Each step shows one capability against the real local stack and says whether it held; the demo
exits non-zero if one did not. Steps import their roles lazily (DESIGN.md §2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from cli.output import console, fail
from databus.settings import Settings
from databus.topology.loader import load_topology
from databus.topology.model import Topology
from databus.topology.topics import Topics

Step = tuple[str, Callable[[], bool]]


def run_demo(settings: Settings, per_source: int, citizens: int, workdir: Path) -> None:
    """Run every demo step in order; exit non-zero at the first one that does not hold."""
    from cli.demo.contracts import show_contracts
    from cli.demo.health import DemoMonitor, show_health, show_live
    from cli.demo.heartbeats import show_heartbeats
    from cli.demo.population import show_population_sync
    from cli.demo.publishing import show_publishing
    from cli.demo.sectors import show_sectors
    from cli.demo.security import show_security
    from cli.demo.verification import show_verification

    topology = load_topology(settings.topology)
    topics = Topics.from_settings(settings, topology)
    endpoints = settings.endpoints
    show_topology(topology)
    monitor = DemoMonitor(settings, workdir)
    steps: list[Step] = [
        (
            "Heartbeats: publish Avro through the registry, consume, check framing",
            lambda: show_heartbeats(settings, topology, topics, per_source),
        ),
        (
            "Contracts: every event type validated, encoded through the registry, decoded",
            lambda: show_contracts(endpoints.registry_url, topology, topics),
        ),
        (
            "Publishing: a generated population and its life events from three ministries",
            lambda: show_publishing(settings, topology, citizens, workdir),
        ),
        (
            "Population sync: the events land in the population database, once in effect",
            lambda: show_population_sync(settings, workdir),
        ),
        (
            "Sectors: lawful projections fill three sector databases; the usage trail",
            lambda: show_sectors(settings, topology, workdir, lambda: show_live(monitor)),
        ),
        (
            "Verification: a mobile operator checks its subscribers; verdicts, never values",
            lambda: show_verification(settings, workdir),
        ),
    ]
    steps.append(
        (
            "Security: principals and ACLs from the topology, signed events, the deployment",
            lambda: show_security(settings, topology),
        )
    )
    steps.append(
        (
            "Connection health: `databus status` from the lag monitor, and the web board",
            lambda: show_health(monitor),
        )
    )
    try:
        for title, step in steps:
            console.rule(title)
            if not step():
                fail(f"demo step failed: {title}")
    finally:
        monitor.stop()
    console.print(
        f"[green]demo ok[/]: Kafka {endpoints.bootstrap_servers}, registry "
        f"{endpoints.registry_url}; stop the stack with `databus stack down`"
    )


def show_topology(topology: Topology) -> None:
    """Demo step: the sources and sectors of the topology."""
    console.rule("Topology (deploy/topology.yaml)")
    sources = Table("source", "agency", "topic", "event types")
    for name, source in topology.sources.items():
        sources.add_row(name, source.agency, source.topic, str(len(source.event_types)))
    console.print(sources)
    sectors = Table("sector", "agency", "allowed fields", "legal bases", "verifies")
    for name, sector in topology.sectors.items():
        sectors.add_row(
            name,
            sector.agency,
            str(len(sector.allowed_fields)),
            str(len(sector.legal_basis)),
            "yes" if sector.verification.enabled else "no",
        )
    console.print(sectors)
