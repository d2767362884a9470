"""bench/router: the sector router's per-change cost, model path beside the trusted fast path.

    .venv/bin/python -m bench.router [--changes N] [--citizens N]

In process, without Kafka (producing is left out: both paths hand the producer the same bytes)
and with an in-memory registry. Citizens come from the generator (`producers.generator`); the
changes mix the event types of `bench.sample_events` (births entering the population 30%,
permanent residence 25%, temporary residence 15%, deaths 10%, PINs issued 10%, identity cards
10%), each encoded as the outbox relay writes it. For every change and every sector of the
default topology, each path decodes the change, computes the releases and encodes the
SectorProjection and DataUsage records, as `streams.router.worker.SectorRouter.process` does:

- model path: `Decoder.decode` (pydantic validation) + `databus.projection.releases` +
  `Encoder.encode` of each model;
- fast path: `Decoder.decode_datum` + `databus.projection_datum.DatumProjector` + `Encoder.frame`.

Runs on one core, the paths in alternating rounds (best of `--repeat` kept); checks that both
paths wrote the same bytes; prints changes/s of each and their ratio, and writes
bench/results/router.json. `--profile` prints the fast path's cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)

from bench.common import RESULTS, machine, pin_to_one_core, write_result
from databus.projection import releases
from databus.projection_datum import DatumProjector
from databus.serde import Decoder, Encoder
from databus.topology.loader import load_topology
from producers.generator import GeneratorConfig, generate
from schemas.models.citizen import Citizen
from schemas.models.downstream import PopulationChange

TOPOLOGY = Path(__file__).resolve().parents[1] / "deploy" / "topology.yaml"
CHANGES = "bench.router.population.changes.v1"
MIX: list[tuple[str, int, list[str]]] = [
    ("BirthRegistered", 30, []),  # version 1: every non-empty allowed field
    ("PermanentResidenceRegistered", 25, ["permanent_residence", "current_residence"]),
    ("TemporaryResidenceRegistered", 15, ["temporary_residence", "current_residence"]),
    ("DeathRegistered", 10, ["date_of_death"]),
    ("PinIssued", 10, ["pin", "identity_card"]),
    ("IdentityCardIssued", 10, ["identity_card", "old_id_number"]),
]
Encoded = list[tuple[str, bytes, bytes]]


def _citizens(count: int) -> list[Citizen]:
    with tempfile.TemporaryDirectory() as out:
        config = GeneratorConfig(
            citizens=count,
            out_dir=Path(out),
            seed=16,
            events_per_citizen=0,
            start=date(2024, 1, 1),
            end=date(2026, 1, 1),
        )
        generate(config, load_topology(TOPOLOGY))
        with (Path(out) / "citizens.jsonl").open(encoding="utf-8") as lines:
            return [Citizen.model_validate(json.loads(line)) for line in lines]


def _changes(citizens: list[Citizen], count: int) -> list[PopulationChange]:
    rng = random.Random(16)
    kinds = [(t, fields) for t, weight, fields in MIX for _ in range(weight)]
    applied = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    out = []
    for n in range(count):
        citizen = citizens[n % len(citizens)]
        event_type, fields = rng.choice(kinds)
        changed = fields or ["family_name", "given_name", "date_of_birth", "sex"]
        out.append(
            PopulationChange(
                pin=citizen.pin,
                version=1 if event_type == "BirthRegistered" else rng.randrange(2, 9),
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                event_type=event_type,
                source="VN/GOV/BTP/hotich",
                changed_fields=changed,
                occurred_at=applied - timedelta(seconds=rng.randrange(86_400)),
                applied_at=applied,
                citizen=citizen,
            )
        )
    return out


def _rate(count: int, loop: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    loop()
    return count / (time.perf_counter() - start)


def _report(
    args: argparse.Namespace,
    n: int,
    sectors: int,
    per_change: float,
    model: float,
    fast: float,
    decode: float,
) -> None:
    load = os.getloadavg()
    print(
        f"bench/router on {machine()}, one core, {n} changes, {sectors} sectors, "
        f"{per_change:.2f} releases per change, load average {load[0]:.1f}"
    )
    print(f"  {model:>10,.0f} changes/s  model path ({1e6 / model:,.0f} µs per change)")
    print(f"  {fast:>10,.0f} changes/s  fast path ({1e6 / fast:,.0f} µs per change)")
    print(f"  {decode:>10,.0f} changes/s  of which decode_datum alone ({1e6 / decode:,.0f} µs)")
    print(f"  ratio fast / model = {fast / model:.2f}; same bytes: yes")
    path = write_result(
        "router",
        "changes/s per core: decode + project + encode for every sector (fast path)",
        fast,
        model,
        unit="changes/s",
        command=f"python -m bench.router --changes {n}",
        results_dir=args.results,
        changes=n,
        citizens=args.citizens,
        sectors=sectors,
        releases_per_change=round(per_change, 2),
        model_us_per_change=round(1e6 / model, 1),
        fast_us_per_change=round(1e6 / fast, 1),
        decode_datum_us_per_change=round(1e6 / decode, 1),
        load_average=[round(x, 2) for x in load],
        baseline_is="the model path (pydantic decode + databus.projection + Encoder.encode)",
    )
    print(f"  wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--citizens", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path (best kept)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the fast path")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write router.json")
    args = parser.parse_args()
    pin_to_one_core()
    sectors = dict(load_topology(TOPOLOGY).sectors)
    client = MockSchemaRegistryClient({"url": "mock://bench-router"})

    def encoders() -> tuple[dict[str, Encoder], Encoder]:
        return {
            name: Encoder(client, f"bench.router.sector.{name}", "SectorProjection", True)
            for name in sectors
        }, Encoder(client, "bench.router.data-usage", "DataUsage", True)

    change_encoder = Encoder(client, CHANGES, "PopulationChange", auto_register=True)
    decoder = Decoder(client, CHANGES, PopulationChange)
    model_projections, model_usage = encoders()
    fast_projections, fast_usage = encoders()
    projector = DatumProjector(sectors)
    values = [change_encoder.encode(c) for c in _changes(_citizens(args.citizens), args.changes)]
    now = datetime.now(UTC)
    model_out: Encoded = []
    fast_out: Encoded = []

    def model_path() -> None:
        model_out.clear()
        for value in values:
            change = decoder.decode(value)
            assert isinstance(change, PopulationChange)
            for r in releases(sectors, change, now):
                model_out.append(
                    (
                        r.sector,
                        model_projections[r.sector].encode(r.projection),
                        model_usage.encode(r.usage),
                    )
                )

    def fast_path() -> None:
        fast_out.clear()
        for value in values:
            for r in projector.releases(decoder.decode_datum(value), now):
                fast_out.append(
                    (
                        r.sector,
                        fast_projections[r.sector].frame(r.projection),
                        fast_usage.frame(r.usage),
                    )
                )

    def decode_only() -> None:
        for value in values:
            decoder.decode_datum(value)

    decoder.decode(values[0])  # warm up: registration, the compiled reader
    n = len(values)
    model = fast = decode = 0.0
    for _ in range(args.repeat):  # alternating rounds (a shared machine), best of each kept
        model = max(model, _rate(n, model_path))
        fast = max(fast, _rate(n, fast_path))
        decode = max(decode, _rate(n, decode_only))
    if fast_out != model_out:
        raise SystemExit("the fast path wrote other bytes than the model path")
    _report(args, n, len(sectors), len(fast_out) / n, model, fast, decode)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(fast_path)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
