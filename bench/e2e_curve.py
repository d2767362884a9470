"""bench/e2e --rates: the saturation curve of the whole path.

    .venv/bin/python -m bench.e2e --rates 200,500,1000,1500,2000 [--seconds S] [--warmup W]
                                  [--grace G] [--plot PNG]

Each rate is its own run of `bench.e2e.run_path`: fresh topics (a new topic prefix) and two
fresh PostgreSQL databases, the four components started anew and stopped at the end, so no
backlog, consumer offset or table of one rate reaches the next. For each rate it prints p50,
p99, p99.9 and the maximum of publish -> sector row committed (events published after the
first W seconds), whether the path kept up, and each process's CPU share and peak memory while
publishing. Kafka's own one hop (`EndToEndLatency`) is measured once, after the last rate.
Writes `e2e-curve.json` and draws the curve (`docs/e2e-saturation.png`).

Kept up, at a rate, means all three of:

1. the publisher held the rate (at least 95 % of it: otherwise the rate was not offered);
2. every published event's sector row was committed within G seconds (default 5) of the last
   publish call: the backlog at the end drains in G seconds;
3. the latency did not grow over the run: the p50 of the last third of the measured events
   (by publish time) is at most 1.1 x the p50 of the first third + 50 ms. A path that falls
   behind builds a queue, so its latency grows with the time published.
"""

from __future__ import annotations

import argparse
import math
import os
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.common import machine, write_result
from bench.e2e import (
    DRAIN_SECONDS,
    TARGET_P50_MS,
    TARGET_P99_MS,
    KafkaLatency,
    PathRun,
    births,
    measure_kafka,
    run_path,
)
from bench.e2e_stages import percentile
from bench.e2e_usage import Usage, usage_table
from bench.stack import PROJECT_ROOT, server_url
from databus.settings import Settings

PLOT = PROJECT_ROOT / "docs" / "e2e-saturation.png"
GRACE_SECONDS = 5.0
HELD_RATE = 0.95
GROWTH_FACTOR = 1.1
GROWTH_MS = 50.0


@dataclass(frozen=True)
class RateRow:
    """What one rate measured."""

    rate: float
    sent_rate: float
    """Events/s the publisher achieved."""
    published: int
    measured: int
    """Events after the warm-up whose row arrived (the percentiles' population)."""
    missing: int
    """Events after the warm-up whose row did not arrive within the drain time."""
    late: int
    """Events (all of them) whose row was not committed within the grace after the last publish."""
    drain_s: float
    """Seconds from the last publish call to the last row committed (nan if some never came)."""
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    p50_first_third_ms: float
    p50_last_third_ms: float
    kept_up: bool
    why_not: str
    usage: dict[str, Usage]
    load_average: float = math.nan
    """The machine's 1-minute load average when the rate started (others' work shows here)."""


def rate_row(rate: float, measured: PathRun, warmup: float, grace: float) -> RateRow:
    """Percentiles and the kept-up verdict of one rate's run."""
    published, seen = measured.published, measured.seen
    first, last = min(published.values()), max(published.values())
    order = sorted(
        (at, pin) for pin, at in published.items() if at - first >= warmup and pin in seen
    )
    latencies = [(seen[pin] - at) * 1000 for at, pin in order]
    ranked = sorted(latencies)
    third = max(1, len(latencies) // 3)
    p50_first = percentile(sorted(latencies[:third]), 0.5)
    p50_last = percentile(sorted(latencies[-third:]), 0.5)
    missing = sum(1 for pin, at in published.items() if at - first >= warmup and pin not in seen)
    late = sum(1 for pin in published if seen.get(pin, math.inf) > last + grace)
    drain = max(seen.values()) - last if len(seen) >= len(published) else math.nan
    sent_rate = len(published) / measured.publish_seconds
    reasons = []
    if sent_rate < HELD_RATE * rate:
        reasons.append(f"published only {sent_rate:,.0f}/s")
    if late:
        reasons.append(f"{late:,} rows not in within {grace:g} s")
    if not p50_last <= GROWTH_FACTOR * p50_first + GROWTH_MS:
        reasons.append(f"p50 grew {p50_first:,.0f} -> {p50_last:,.0f} ms")
    return RateRow(
        rate=rate,
        sent_rate=sent_rate,
        published=len(published),
        measured=len(latencies),
        missing=missing,
        late=late,
        drain_s=drain,
        p50_ms=percentile(ranked, 0.5),
        p99_ms=percentile(ranked, 0.99),
        p999_ms=percentile(ranked, 0.999),
        max_ms=ranked[-1] if ranked else math.nan,
        p50_first_third_ms=p50_first,
        p50_last_third_ms=p50_last,
        kept_up=not reasons,
        why_not="; ".join(reasons),
        usage=measured.usage,
    )


def _print_rows(rows: list[RateRow]) -> None:
    print(
        f"    {'rate/s':>7} {'sent/s':>7} {'events':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'p99.9 ms':>8} {'max ms':>8} {'p50 1st->last 3rd':>19} {'drain s':>7} {'missing':>7}"
        "  kept up"
    )
    for r in rows:
        thirds = f"{r.p50_first_third_ms:,.0f} -> {r.p50_last_third_ms:,.0f}"
        verdict = "yes" if r.kept_up else f"NO ({r.why_not})"
        print(
            f"    {r.rate:>7,.0f} {r.sent_rate:>7,.0f} {r.measured:>7,} {r.p50_ms:>8,.1f} "
            f"{r.p99_ms:>8,.1f} {r.p999_ms:>8,.1f} {r.max_ms:>8,.1f} {thirds:>19} "
            f"{r.drain_s:>7.1f} {r.missing:>7,}  {verdict}"
        )


def _finite(value: Any) -> Any:
    """NaN and infinities as None (JSON has no NaN); floats rounded; dicts and lists walked."""
    if isinstance(value, float):
        return round(value, 3) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _headline(rows: list[RateRow]) -> RateRow:
    """The row the result file's `ours` is taken from: the rate nearest 1,000 events/s."""
    return min(rows, key=lambda r: abs(r.rate - 1000.0))


def sweep(args: argparse.Namespace) -> None:
    """Run each rate on a fresh path, then Kafka's one hop; print, write the result and plot."""
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    print(
        f"bench/e2e saturation curve on {machine()}: rates {', '.join(f'{r:g}' for r in rates)}"
        f" events/s, {args.seconds:g} s each ({args.warmup:g} s warm-up left out), sector "
        f"{args.sector}; each rate on fresh topics and databases, the path restarted"
    )
    rows: list[RateRow] = []
    settings = Settings()
    for rate in rates:
        settings = Settings(topic_prefix=f"bench.e2e.{uuid.uuid4().hex[:8]}.")
        server = server_url(args.database_url, settings)
        count = int(rate * args.seconds)
        load = os.getloadavg()[0]
        print(f"  {rate:,.0f}/s: {count:,} births (load average {load:.1f}) ...", flush=True)
        # made while publishing (28 us each), not held: 600,000 births would take ~3 GB
        measured = run_path(settings, args.sector, server, rate, births(count))
        rows.append(replace(rate_row(rate, measured, args.warmup, args.grace), load_average=load))
        _print_rows(rows[-1:])
    kafka = measure_kafka(settings)
    print(
        f"  publish -> sector row committed, events after a {args.warmup:g} s warm-up; kept up ="
        f" held the rate, all rows in within {args.grace:g} s of the last publish, p50 of the"
        f" last third <= {GROWTH_FACTOR:g} x first third + {GROWTH_MS:g} ms:"
    )
    _print_rows(rows)
    if any(r.missing for r in rows):
        print(
            f"  missing: rows not committed within {DRAIN_SECONDS:.0f} s of the last publish;"
            " the percentiles leave them out, so they understate that rate's latency"
        )
    print("  CPU share (1.00 = one core) and peak memory (PSS, MiB) while publishing:")
    for line in usage_table({r.rate: r.usage for r in rows}):
        print(line)
    print(
        f"  baseline, Kafka EndToEndLatency (one produce -> consume hop, acks=all): p50 "
        f"{kafka.p50:.1f} ms, p99 {kafka.p99:.1f} ms, p99.9 {kafka.p999:.1f} ms"
    )
    _write(args, rows, kafka)


def _write(args: argparse.Namespace, rows: list[RateRow], kafka: KafkaLatency) -> None:
    from bench.e2e_plot import plot  # matplotlib is a dev extra: only the sweep needs it

    head = _headline(rows)
    command = (
        f"python -m bench.e2e --rates {args.rates} --seconds {args.seconds:g} "
        f"--warmup {args.warmup:g} --grace {args.grace:g} --sector {args.sector}"
    )
    plot_path: Path = args.plot
    note = (
        f"did not keep up: sent below {HELD_RATE:.0%} of the rate, or a row not committed within"
        f" {args.grace:g} s of the last publish, or p50 of the last third >"
        f" {GROWTH_FACTOR:g} x the first third's + {GROWTH_MS:g} ms"
    )
    plot(rows, kafka, plot_path, seconds=args.seconds, machine_name=machine(), note=note)
    path = write_result(
        "e2e-curve",
        f"publish -> sector row committed, p99 latency (ms) at {head.rate:,.0f} events/s",
        head.p99_ms,
        kafka.p99,
        unit="ms",
        command=command,
        results_dir=args.results,
        seconds=args.seconds,
        warmup=args.warmup,
        grace_s=args.grace,
        drain_limit_s=DRAIN_SECONDS,
        rates_independent="each rate on fresh topics and databases, the path restarted",
        kept_up_rule=(
            f"sent >= {HELD_RATE:g} x rate; every row committed within grace_s of the last"
            f" publish; p50 of the last third <= {GROWTH_FACTOR:g} x p50 of the first third"
            f" + {GROWTH_MS:g} ms"
        ),
        kafka_one_hop_ms=_finite(
            {"p50": kafka.p50, "p99": kafka.p99, "p99.9": kafka.p999, "average": kafka.average}
        ),
        target={"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS},
        usage_note=(
            "cpu_share: CPU seconds / wall seconds while publishing, 1.0 = one core, process"
            " trees; peak_pss_mib: largest summed PSS sampled each second while publishing;"
            " vmhwm_mib: the root process's resident high-water mark since it started"
        ),
        plot=str(plot_path.relative_to(PROJECT_ROOT))
        if plot_path.is_relative_to(PROJECT_ROOT)
        else str(plot_path),
        rows=[_finite(asdict(r)) for r in rows],
    )
    print(f"  wrote {path} and {plot_path}")
    print(f"  command: {command}")
