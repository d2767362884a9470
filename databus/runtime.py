"""Process settings for the long-running workers."""

from __future__ import annotations

import gc

GC_THRESHOLD = 50_000
"""Allocations between young-generation collections (CPython's default is 700)."""


def tune_gc() -> None:
    """Make garbage collection cheap for a batch worker, once it has loaded its code.

    Everything alive at start-up (modules, compiled schemas, the topology) moves to the
    permanent generation, so collections no longer walk it; and young collections run every
    `GC_THRESHOLD` allocations instead of 700. A batch allocates tens of thousands of short-lived
    objects; with the defaults the collector ran hundreds of times per batch, a quarter of the
    apply time in bench/sync.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)
