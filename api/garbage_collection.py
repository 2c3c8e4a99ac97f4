"""Garbage collection for a bulk command, which allocates millions of short-lived objects.

CPython's collector runs after every 700 allocations and walks the young objects, and now
and then everything the process holds. An import's rows, targets and events are freed by
reference counting as each batch goes, and none of them form cycles, so those passes find
nothing, at a cost benchmarks/findings.py gives. Here the objects of start-up are set aside
(``gc.freeze``) and the young are collected after 100,000 allocations instead; memory
stays flat because reference counting, not the collector, frees what a batch made.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 100_000


@contextmanager
def seldom_collected() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
