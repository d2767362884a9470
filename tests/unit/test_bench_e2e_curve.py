"""bench/e2e --rates: the kept-up verdict and the /proc sampling, without services."""

from __future__ import annotations

import os
import time

from bench.e2e import PathRun
from bench.e2e_curve import rate_row
from bench.e2e_usage import Part, UsageSampler, usage_table


def _run(rate: float, seconds: float, latency: list[float], lost: int = 0) -> PathRun:
    """A run that published at `rate` for `seconds`; event i's row came latency(i) s later."""
    count = int(rate * seconds)
    published = {f"{i:012d}": i / rate for i in range(count)}
    seen = {pin: at + latency[i] for i, (pin, at) in enumerate(published.items()) if i >= lost}
    return PathRun(published, seen, seconds, {}, {}, {})


def test_a_steady_path_kept_up() -> None:
    row = rate_row(100, _run(100, 30, [0.2] * 3000), warmup=5, grace=5)
    assert row.kept_up, row.why_not
    assert row.measured == 2500
    assert abs(row.p50_ms - 200) < 1e-6
    assert abs(row.p99_ms - 200) < 1e-6
    assert row.missing == row.late == 0


def test_a_growing_latency_did_not_keep_up_even_if_it_drained_in_time() -> None:
    # capacity 90 % of the rate: the queue, so the latency, grows by 0.1 s per s
    row = rate_row(100, _run(100, 30, [0.1 * i / 100 for i in range(3000)]), warmup=5, grace=5)
    assert not row.kept_up
    assert "p50 grew" in row.why_not
    assert row.late == 0  # 3 s behind at the end: within the grace


def test_rows_not_in_within_the_grace_did_not_keep_up() -> None:
    latency = [0.2] * 2990 + [9.0] * 10
    row = rate_row(100, _run(100, 30, latency), warmup=5, grace=5)
    assert not row.kept_up
    assert row.late == 10
    assert row.missing == 0


def test_rows_never_seen_are_missing() -> None:
    row = rate_row(100, _run(100, 30, [0.2] * 3000, lost=600), warmup=5, grace=5)
    assert row.missing == 100  # 600 lost, 500 of them in the warm-up
    assert row.late == 600
    assert not row.kept_up


def test_the_sampler_sees_this_process_use_cpu() -> None:
    started = time.monotonic()
    with UsageSampler([Part("me", os.getpid(), tree=False)], interval=0.05) as sampler:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
    wall = time.monotonic() - started
    usage = sampler.result["me"]
    assert 0.25 < usage.cpu_share * wall < 0.5  # CPU seconds, whatever else runs here
    assert usage.peak_pss_mib > 1
    assert usage.vmhwm_mib >= usage.peak_pss_mib * 0.5
    lines = usage_table({100.0: sampler.result})
    assert "me" in lines[1]
