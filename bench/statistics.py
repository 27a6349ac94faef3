"""Percentiles of latency samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile of ascending values (``fraction`` 0.99 for p99), None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def milliseconds(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    if math.isinf(seconds):
        return math.inf
    return round(seconds * 1000, 2)


def latency_summary(samples: list[float], missing: int = 0) -> dict[str, float | int | None]:
    """Return p50, p90, p99 and max in milliseconds; each of the ``missing`` samples counts as infinite."""
    values = sorted(samples) + [math.inf] * missing
    return {
        "count": len(values),
        "p50_ms": milliseconds(percentile(values, 0.50)),
        "p90_ms": milliseconds(percentile(values, 0.90)),
        "p99_ms": milliseconds(percentile(values, 0.99)),
        "max_ms": milliseconds(values[-1] if values else None),
    }
