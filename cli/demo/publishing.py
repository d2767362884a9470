"""Demo step: a generated population and its life events, published by three ministries."""

from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from cli.output import console
from databus.settings import Settings
from databus.topology.model import Topology


def show_publishing(settings: Settings, topology: Topology, citizens: int, workdir: Path) -> bool:
    """Generate `citizens` people, then each source loads its file through the SDK."""
    from producers.generator import GeneratorConfig, generate
    from producers.loader.load import load_file
    from producers.sdk import Publisher

    out = workdir / "population"
    started = time.monotonic()
    report = generate(GeneratorConfig(citizens=citizens, out_dir=out, seed=6), topology)
    console.print(
        f"generated {citizens} citizens and {report.events:,} events in "
        f"{time.monotonic() - started:.1f} s into {out}"
    )
    table = Table("source", "agency", "lines", "valid", "delivered", "events/s")
    ok = True
    for source in topology.sources:
        path = out / f"events.{source}.jsonl"
        publisher = Publisher(source, settings=settings, topology=topology)
        started = time.monotonic()
        try:
            loaded = load_file(path, publisher.gate, publisher)
        finally:
            publisher.close()
        rate = loaded.delivered / max(time.monotonic() - started, 1e-6)
        ok &= loaded.ok
        table.add_row(
            source,
            publisher.agency,
            str(loaded.lines),
            str(loaded.valid),
            str(loaded.delivered),
            f"{rate:,.0f}",
        )
    console.print(table)
    return ok
