"""The one percentile definition of the project: the routing evaluation, the desk's status page and every
benchmark report percentiles with it, so their p50s and p95s compare."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (q in 0..100) by linear interpolation between the closest ranks: the value at
    position q/100 * (n - 1) of the sorted values. This is numpy's default (`method="linear"`) and
    `statistics.quantiles(method="inclusive")`, and at q=50 it is `statistics.median`. 0.0 for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
