"""Summaries of one load level: counts, errors by status, throughput in the steady window, percentiles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from crew.stats import percentile


@dataclass(frozen=True)
class Sample:
    """One request as the driver saw it. Times are seconds from the level's start; status 0 = no answer."""

    status: int
    started: float
    finished: float
    route: str = ""
    tag: str = ""  # what the request carried (the probe tags each request with its message)
    error_code: str = ""  # a refused request's machine-readable code (e.g. database_busy)

    @property
    def latency(self) -> float:
        return self.finished - self.started


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def errors_by_status(samples: Sequence[Sample], ok: tuple[int, ...] = (200,)) -> dict[str, int]:
    counts = Counter(f"{s.status} {s.error_code}".strip() for s in samples if s.status not in ok)
    return dict(sorted(counts.items()))


def steady_throughput(samples: Sequence[Sample], window_start: float, window_end: float) -> float:
    """Successful completions per second inside [window_start, window_end], while every client was busy.

    Counting only this window leaves out the ramp-up (no answer has arrived yet) and the drain (clients
    stop one by one), which would otherwise bias a short run low."""
    span = window_end - window_start
    if span <= 0:
        return 0.0
    done = sum(1 for s in samples if s.status == 200 and window_start <= s.finished <= window_end)
    return done / span


def latency_summary(samples: Sequence[Sample]) -> dict[str, float]:
    values = [s.latency for s in samples if s.status == 200]
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        "max_ms": round(max(values, default=0.0) * 1000, 1),
    }
