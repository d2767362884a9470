"""Citizen records (their JSON form, as the population database keeps them) from the
generator, for tests that project or store citizens."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from databus.topology.model import Topology
from producers.generator import GeneratorConfig, generate


def generated_citizens(topology: Topology, out_dir: Path, *, citizens: int, seed: int) -> list[Any]:
    """`citizens` generated citizen records (no events), written under `out_dir`."""
    config = GeneratorConfig(
        citizens=citizens,
        out_dir=out_dir,
        seed=seed,
        events_per_citizen=0,
        start=date(2024, 1, 1),
        end=date(2026, 11, 20),
    )
    generate(config, topology)
    with (out_dir / "citizens.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]
