"""Synthetic citizens for the sector benchmarks: a generated pool, repeated under new PINs.

Generating a million citizens with `producers.generator` takes minutes; the sector benchmarks
need realistic records (Vietnamese names, relations, addresses), not a million different ones.
So a pool is generated (its initial population, no life events) and each replica gets a new
PIN with the same place, century/sex and year digits as its pool citizen (so the PIN still
agrees with the date of birth and sex) and a serial unique within that prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from databus.topology.model import Topology
from producers.generator import GeneratorConfig, generate
from producers.generator.writer import CITIZENS_FILE

SERIALS = 1_000_000
SCRAMBLE = 7919
"""A prime coprime with SERIALS: `n * SCRAMBLE % SERIALS` maps distinct n to distinct serials."""


def citizen_pool(count: int, workdir: Path, topology: Topology, seed: int) -> list[dict[str, Any]]:
    """`count` generated citizens (their JSON form, as the population database holds it)."""
    out = workdir / f"pool-{count}"
    generate(
        GeneratorConfig(
            citizens=count,
            out_dir=out,
            seed=seed,
            events_per_citizen=0,
            start=date(2024, 1, 1),
            end=date(2026, 11, 20),
        ),
        topology,
    )
    with (out / CITIZENS_FILE).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def replica_pins(pool_pins: list[str], count: int) -> Iterator[tuple[int, str]]:
    """`count` distinct new PINs, each with the index of the pool citizen it copies.

    Replica i copies pool citizen i % len(pool): consecutive replicas are different citizens.
    """
    slot: list[int] = []
    sharing: dict[str, int] = {}
    for pin in pool_pins:
        slot.append(sharing.get(pin[:6], 0))
        sharing[pin[:6]] = slot[-1] + 1
    size = [sharing[pin[:6]] for pin in pool_pins]
    pool = len(pool_pins)
    for i in range(count):
        base, copy = i % pool, i // pool
        n = copy * size[base] + slot[base]
        if n >= SERIALS:
            raise ValueError("the pool is too small for this many replicas")
        yield base, f"{pool_pins[base][:6]}{n * SCRAMBLE % SERIALS:06d}"
