"""The SDK's bulk metrics: the same samples as observing and counting one by one."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from databus.metrics import LATENCY_BUCKETS
from producers.sdk.tally import CounterTally, HistogramTally

AMOUNTS = [0.0, 0.0004, 0.001, 0.0049, 0.005, 0.02, 0.25, 1.0, 3.5, 1e6]


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_histogram_tally_adds_what_observe_would() -> None:
    one_by_one, bulk = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("lat", "x", ["agency"], buckets=LATENCY_BUCKETS, registry=one_by_one)
    tallied = Histogram("lat", "x", ["agency"], buckets=LATENCY_BUCKETS, registry=bulk)
    tally = HistogramTally(tallied.labels("a"))
    for amount in AMOUNTS:
        direct.labels("a").observe(amount)
        tally.observe(amount)
    assert not any(_samples(bulk).values())  # nothing visible before the flush
    tally.flush()
    tally.flush()  # a second flush adds nothing
    assert _samples(bulk) == _samples(one_by_one)
    tally.observe(0.003)
    direct.labels("a").observe(0.003)
    tally.flush()
    assert _samples(bulk) == _samples(one_by_one)


def test_counter_tally_adds_each_label_once_per_flush() -> None:
    registry = CollectorRegistry()
    counter = Counter("published", "x", ["agency", "event_type"], registry=registry)
    made: list[str] = []

    def child(event_type: str) -> object:
        made.append(event_type)
        return counter.labels("a", event_type)

    tally = CounterTally(child)  # type: ignore[arg-type]
    for event_type in ["Birth", "Death", "Birth"]:
        tally.inc(event_type)
    assert (
        registry.get_sample_value("published_total", {"agency": "a", "event_type": "Birth"}) is None
    )
    tally.flush()
    tally.inc("Birth")
    tally.flush()
    tally.flush()
    assert registry.get_sample_value("published_total", {"agency": "a", "event_type": "Birth"}) == 3
    assert registry.get_sample_value("published_total", {"agency": "a", "event_type": "Death"}) == 1
    assert made == ["Birth", "Death"]  # each labelled child looked up once
