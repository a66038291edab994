"""Confidence intervals, exact pooling of subtask estimates, and rank intervals.

Every interval on the leaderboard is the normal approximation mean +- 1.96 * SE, with SE the
sample standard deviation (ddof=1) over items divided by sqrt(n): the same stderr lm-eval reports
for a `mean` metric, so intervals from results files and from samples files agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.96
Bounds = tuple[float, float] | None


@dataclass(frozen=True)
class Estimate:
    """A mean over n items with its standard error and 95 % interval (None where undefined)."""

    mean: float
    se: float | None
    n: int
    lo: float | None
    hi: float | None
    leaves: int = 1  # leaf tasks pooled into this estimate
    source: str = "results"  # "samples", "results" or "mixed"

    def interval(self) -> tuple[float, float]:
        """The 95 % interval, or the point itself where no SE exists (ranks then treat it exactly)."""
        if self.lo is None or self.hi is None:
            return (self.mean, self.mean)
        return (self.lo, self.hi)


def ci95(mean: float, se: float | None, bounds: Bounds = None) -> tuple[float | None, float | None]:
    """mean +- 1.96 SE, clipped to `bounds` for proportions (an accuracy interval past 1 means nothing)."""
    if se is None:
        return (None, None)
    lo, hi = mean - Z95 * se, mean + Z95 * se
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return (lo, hi)


def make_estimate(
    mean: float, se: float | None, n: int, bounds: Bounds = None, leaves: int = 1, source: str = "results"
) -> Estimate:
    lo, hi = ci95(mean, se, bounds)
    return Estimate(mean=mean, se=se, n=n, lo=lo, hi=hi, leaves=leaves, source=source)


def estimate_from_values(values: Sequence[float], bounds: Bounds = None) -> Estimate:
    """Mean and SE (sample sd with ddof=1, over sqrt(n)) of per-item values."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    se = None
    if n > 1:
        var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
        se = math.sqrt(var / n)
    return make_estimate(mean, se, n, bounds, source="samples")


def pool_estimates(parts: Sequence[Estimate], bounds: Bounds = None) -> Estimate:
    """The estimate over the union of the parts' items, from each part's (n, mean, SE) alone.

    Exact: total sum of squares = within-part SS + between-part SS, so the result equals
    `estimate_from_values` on the concatenated items. lm-eval's group stderr
    (`pooled_sample_stderr`) is a pooled within-subtask variance instead (no between-part term,
    N - k degrees of freedom), not the SE of the mean over all items; that is why groups,
    languages and dimensions are all recomputed here from their leaf tasks.
    """
    if not parts:
        raise ValueError("nothing to pool")
    n = sum(p.n for p in parts)
    mean = math.fsum(p.mean * p.n for p in parts) / n
    sources = {p.source for p in parts}
    source = sources.pop() if len(sources) == 1 else "mixed"
    leaves = sum(p.leaves for p in parts)
    se = None
    # A part of n > 1 without an SE leaves its spread unknown, and so the pooled SE.
    if n > 1 and all(p.se is not None or p.n == 1 for p in parts):
        within = math.fsum((p.n - 1) * p.n * p.se**2 for p in parts if p.n > 1 and p.se is not None)
        between = math.fsum(p.n * (p.mean - mean) ** 2 for p in parts)
        se = math.sqrt((within + between) / (n - 1) / n)
    return make_estimate(mean, se, n, bounds, leaves=leaves, source=source)


def rank_intervals(intervals: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    """Best and worst possible rank (1 = highest) of each interval among all of them.

    A competitor is surely ahead when its interval lies wholly above ours, surely behind when
    wholly below; every overlap is a tie, so overlapping models share a rank range like 1-2.
    """
    ranks = []
    for i, (lo, hi) in enumerate(intervals):
        ahead = sum(1 for j, (lo2, _) in enumerate(intervals) if j != i and lo2 > hi)
        behind = sum(1 for j, (_, hi2) in enumerate(intervals) if j != i and hi2 < lo)
        ranks.append((1 + ahead, len(intervals) - behind))
    return ranks


def format_rank(rank: tuple[int, int] | None) -> str:
    if rank is None:
        return "—"
    lo, hi = rank
    return str(lo) if lo == hi else f"{lo}–{hi}"


def balanced_estimate(up: Estimate, down: Estimate) -> Estimate:
    """The mean of two independent strata's accuracies: SE = sqrt(SE_up^2 + SE_down^2) / 2."""
    se = None
    if up.se is not None and down.se is not None:
        se = math.sqrt(up.se**2 + down.se**2) / 2
    sources = {up.source, down.source}
    return make_estimate(
        (up.mean + down.mean) / 2,
        se,
        up.n + down.n,
        (0.0, 1.0),
        leaves=max(up.leaves, down.leaves),
        source=sources.pop() if len(sources) == 1 else "mixed",
    )
