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
    rows: list[RateRow],
    kafka: KafkaLatency,
    path: Path,
    *,
    seconds: float,
    machine_name: str,
    note: str,
) -> None:
    """p50 and p99 of ours per rate, Kafka's one hop p50/p99 as a band, the targets dashed;
    rates where the path did not keep up marked with a red cross and labelled; `note` (what
    "kept up" means) as a footnote."""
    rates = [r.rate for r in rows]
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=120)
    kafka_p50 = math.nan
    if math.isfinite(kafka.p50) and math.isfinite(kafka.p99):
        # EndToEndLatency prints whole ms: 0 means under 1 ms, drawn at 0.5 ms
        kafka_p50 = max(kafka.p50, 0.5)
        p50_label = "< 1 ms" if kafka.p50 < 1 else f"{kafka.p50:.0f} ms"
        ax.axhspan(kafka_p50, kafka.p99, color="tab:gray", alpha=0.10, lw=0)
        ax.axhline(kafka_p50, color="dimgray", lw=1.5, label=f"Kafka one hop p50 ({p50_label})")
        ax.axhline(
            kafka.p99,
            color="dimgray",
            lw=1.5,
            ls=":",
            label=f"Kafka one hop p99 ({kafka.p99:.0f} ms)",
        )
    ax.axhline(
        TARGET_P50_MS, color="tab:blue", ls="--", lw=1, label=f"target p50 {TARGET_P50_MS:.0f} ms"
    )
    ax.axhline(
        TARGET_P99_MS, color="tab:orange", ls="--", lw=1, label=f"target p99 {TARGET_P99_MS:.0f} ms"
    )
    ax.plot(rates, [r.p50_ms for r in rows], "o-", color="tab:blue", lw=2, label="ours p50")
    ax.plot(rates, [r.p99_ms for r in rows], "s-", color="tab:orange", lw=2, label="ours p99")
    behind = [r for r in rows if not r.kept_up]
    if behind:
        ax.plot(
            [r.rate for r in behind] * 2,
            [r.p50_ms for r in behind] + [r.p99_ms for r in behind],
            "x",
            color="red",
            alpha=0.75,
            ms=12,
            mew=2.5,
            ls="none",
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
                fontsize=9,
            )
    values = [v for r in rows for v in (r.p50_ms, r.p99_ms) if math.isfinite(v)]
    floor = [v for v in (kafka_p50, TARGET_P50_MS, *values) if math.isfinite(v) and v > 0]
    ax.set_ylim(max(min(floor) / 2, 0.1), max([TARGET_P99_MS, *values]) * 3)
    if len(rates) > 1:
        span = rates[-1] - rates[0]
        ax.set_xlim(rates[0] - span * 0.06, rates[-1] + span * 0.06)
    ax.set_yscale("log")
    ax.set_xticks(rates)
    ax.set_xticklabels([f"{rate:,.0f}" for rate in rates])
    ax.set_xlabel("offered rate, events/s (births published through the SDK)")
    ax.set_ylabel("publish → sector row committed, ms (log scale)")
    ax.set_title(
        f"Whole path saturation curve, {seconds:g} s per rate\n{machine_name}", fontsize=10
    )
    ax.grid(True, which="both", axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.text(0.01, 0.01, note, fontsize=7.5, color="dimgray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
