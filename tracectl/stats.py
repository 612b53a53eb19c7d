"""Percentiles, one way for every table this project prints (service map, benchmark)."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile of `values` (1 ≤ q ≤ 99), interpolated between the samples that bracket it
    (`statistics.quantiles`' inclusive method, as for a complete population). One value: that value."""
    if not values:
        raise ValueError("no values")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]
