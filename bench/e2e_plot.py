"""The saturation curve of bench/e2e as a PNG: latency (log scale) against the offered rate."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt

from bench.e2e import TARGET_P50_MS, TARGET_P99_MS, KafkaLatency

if TYPE_CHECKING:
    from bench.e2e_curve import RateRow


def plot(
    rows: list[RateRow], kafka: KafkaLatency, path: Path, *, seconds: float, machine_name: str
) -> None:
    """p50 and p99 of ours per rate, Kafka's one hop p50/p99 as a band, the targets dashed;
    rates where the path did not keep up marked with a red cross and labelled."""
    rates = [r.rate for r in rows]
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    if math.isfinite(kafka.p50) and math.isfinite(kafka.p99):
        low = max(kafka.p50, 0.1)
        ax.axhspan(low, kafka.p99, color="tab:gray", alpha=0.18, lw=0)
        ax.axhline(low, color="tab:gray", lw=1.2)
        ax.axhline(kafka.p99, color="tab:gray", lw=1.2)
        ax.text(
            rates[0],
            kafka.p99 * 1.15,
            f"Kafka one hop (EndToEndLatency, acks=all): p50 {kafka.p50:.1f} ms,"
            f" p99 {kafka.p99:.1f} ms",
            color="dimgray",
            fontsize=8.5,
        )
    for target, label in ((TARGET_P50_MS, "p50 target"), (TARGET_P99_MS, "p99 target")):
        ax.axhline(target, color="black", ls="--", lw=1)
        ax.text(rates[-1], target * 1.08, f"{label} {target:.0f} ms", ha="right", fontsize=8.5)
    ax.plot(rates, [r.p50_ms for r in rows], "o-", color="tab:blue", lw=2, label="ours p50")
    ax.plot(rates, [r.p99_ms for r in rows], "s-", color="tab:orange", lw=2, label="ours p99")
    behind = [r for r in rows if not r.kept_up]
    if behind:
        ax.plot(
            [r.rate for r in behind],
            [r.p99_ms for r in behind],
            "x",
            color="red",
            ms=14,
            mew=3,
            label="did not keep up",
        )
        for r in behind:
            ax.annotate(
                "fell behind",
                (r.rate, r.p99_ms),
                textcoords="offset points",
                xytext=(0, 12),
                ha="center",
                color="red",
                fontsize=8.5,
            )
    ax.set_yscale("log")
    ax.set_xticks(rates)
    ax.set_xticklabels([f"{rate:,.0f}" for rate in rates])
    ax.set_xlabel("offered rate, events/s (births published through the SDK)")
    ax.set_ylabel("publish → sector row committed, ms (log scale)")
    ax.set_title(
        f"Whole path saturation curve, {seconds:g} s per rate\n{machine_name}", fontsize=10
    )
    ax.grid(True, which="both", axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
