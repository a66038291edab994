"""Agreement between a score and human judgments: the pure math (numpy only; no I/O, no lm-eval).

    accuracy        share of pairs where the score picks the human choice (a tie counts 0.5)
    kendall_tau_b   Kendall's τ-b, ties in either variable corrected for
    spearman_rho    Pearson's r of the average ranks (ties share their mean rank)

and a percentile bootstrap 95 % interval for each, drawn with a seed:

    rng = np.random.default_rng(seed); idx = rng.integers(0, n, size=(n_resamples, n))
    statistic(x[idx[b]], y[idx[b]]) for every row b;  interval = np.percentile(those, [2.5, 97.5])

`bootstrap_interval` does exactly that and is the reference. The fast paths below give the same
numbers from the same draws without building the resampled arrays: a resample is a vector of
counts w (how often each item was drawn), and each statistic of the resample is a function of w
(tested against the reference). That is what makes τ-b intervals on a thousand items cheap enough
to run inside an lm-eval aggregation.

Conventions: items where either value is missing (None, NaN) are dropped first; a statistic with
nothing to rank (n < 2, or every value tied in x or in y) is NaN; resamples whose statistic is NaN
are left out of the percentiles, and the interval is NaN when none is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 1000
CONFIDENCE = 0.95
SEED = 0
# Bound on the cells of one block of work (resample rows x items, item block x items), so that
# memory stays at tens of MB whatever the number of items.
_CELLS = 4_000_000


@dataclass(frozen=True)
class Estimate:
    """A statistic over the items, with its percentile bootstrap interval and the item count."""

    value: float
    low: float
    high: float
    n: int


def defined(*columns: Sequence[float | None]) -> tuple[np.ndarray, ...]:
    """The columns as float arrays, keeping only the rows where every column is a finite number."""
    arrays = [np.array([math.nan if v is None else float(v) for v in col], dtype=float) for col in columns]
    if len({a.size for a in arrays}) > 1:
        raise ValueError("columns must have the same length")
    keep = np.logical_and.reduce([np.isfinite(a) for a in arrays]) if arrays else np.array([], bool)
    return tuple(a[keep] for a in arrays)


# ------------------------------------------------------------------------------ point statistics


def win(a: float, b: float) -> float:
    """1.0 if a > b, 0.0 if a < b, 0.5 on an exact tie."""
    return 1.0 if a > b else 0.0 if a < b else 0.5


def accuracy(wins: Sequence[float | None]) -> float:
    """Mean of per-pair wins (1, 0, or 0.5 on a tie) over the pairs where the score is defined."""
    (w,) = defined(wins)
    return float(w.mean()) if w.size else math.nan


def average_ranks(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n; tied values share the mean of the ranks they span ([10, 20, 20] -> [1, 2.5, 2.5])."""
    _, inverse, counts = np.unique(np.asarray(x, dtype=float), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse.reshape(-1)]


def kendall_tau_b(x: Sequence[float | None], y: Sequence[float | None]) -> float:
    """Kendall's τ-b: (concordant − discordant) / sqrt((n0 − ties in x)(n0 − ties in y)), n0 = n(n−1)/2."""
    xs, ys = defined(x, y)
    return float(_tau_b_weighted(xs, ys, np.ones((1, xs.size)))[0])


def spearman_rho(x: Sequence[float | None], y: Sequence[float | None]) -> float:
    """Spearman's ρ: Pearson's r between the average ranks of x and of y."""
    xs, ys = defined(x, y)
    return float(_spearman_weighted(xs, ys, np.ones((1, xs.size)))[0])


# ------------------------------------------------------------------------------ the bootstrap


def resample_indices(n: int, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Iterator[np.ndarray]:
    """The bootstrap draws, in row blocks: together exactly rng.integers(0, n, size=(n_resamples, n))."""
    rng = np.random.default_rng(seed)
    rows = max(1, _CELLS // max(1, n))
    for start in range(0, n_resamples, rows):
        yield rng.integers(0, n, size=(min(rows, n_resamples - start), n))


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each item was drawn in each resample row: (rows, n) floats."""
    rows = idx.shape[0]
    flat = (idx + n * np.arange(rows)[:, None]).reshape(-1)
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def percentile_interval(stats: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The (1 − confidence)/2 and (1 + confidence)/2 percentiles of the finite statistics; NaN if none."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    finite = stats[np.isfinite(stats)]
    if not finite.size:
        return math.nan, math.nan
    alpha = 1.0 - confidence
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_interval(
    statistic: Callable[..., float],
    columns: Sequence[Sequence[float | None]],
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile interval of `statistic(*resampled columns)` by direct resampling (the reference)."""
    arrays = defined(*columns)
    n = arrays[0].size if arrays else 0
    if n < 2:
        return math.nan, math.nan
    stats = [statistic(*(a[row] for a in arrays)) for idx in resample_indices(n, n_resamples, seed) for row in idx]
    return percentile_interval(np.array(stats, dtype=float), confidence)


def _weighted_stats(
    weighted: Callable[..., np.ndarray], arrays: tuple[np.ndarray, ...], n_resamples: int, seed: int
) -> np.ndarray:
    n = arrays[0].size
    return np.concatenate([weighted(*arrays, _counts(idx, n)) for idx in resample_indices(n, n_resamples, seed)])


def _estimate(
    weighted: Callable[..., np.ndarray],
    columns: Sequence[Sequence[float | None]],
    n_resamples: int,
    seed: int,
    confidence: float,
) -> Estimate:
    arrays = defined(*columns)
    n = arrays[0].size
    if n < 2:
        value = float(weighted(*arrays, np.ones((1, n)))[0]) if n else math.nan
        return Estimate(value, math.nan, math.nan, n)
    value = float(weighted(*arrays, np.ones((1, n)))[0])
    low, high = percentile_interval(_weighted_stats(weighted, arrays, n_resamples, seed), confidence)
    return Estimate(value, low, high, n)


def accuracy_estimate(
    wins: Sequence[float | None], n_resamples: int = N_RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE
) -> Estimate:
    """accuracy(wins) with its percentile bootstrap interval (= bootstrap_interval(np.mean, [wins]))."""
    return _estimate(_mean_weighted, [wins], n_resamples, seed, confidence)


def tau_b_estimate(
    x: Sequence[float | None],
    y: Sequence[float | None],
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """kendall_tau_b(x, y) with its percentile bootstrap interval (= bootstrap_interval(kendall_tau_b, …))."""
    return _estimate(_tau_b_weighted, [x, y], n_resamples, seed, confidence)


def spearman_estimate(
    x: Sequence[float | None],
    y: Sequence[float | None],
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """spearman_rho(x, y) with its percentile bootstrap interval (= bootstrap_interval(spearman_rho, …))."""
    return _estimate(_spearman_weighted, [x, y], n_resamples, seed, confidence)


# ------------------------------------------------------------------------------ statistics of counts
# Each takes the items' values and W, one row of draw counts per resample, and returns one value per row:
# the statistic of the sample in which item i appears W[b, i] times.


def _mean_weighted(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ v) / total


def _tied_pairs(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pairs of draws with equal x, per row: an item drawn twice ties with itself; n_g draws of one
    value give n_g (n_g − 1) / 2 pairs."""
    _, groups = np.unique(x, return_inverse=True)
    per_value = np.zeros((w.shape[0], groups.max() + 1 if groups.size else 0))
    np.add.at(per_value.T, groups.reshape(-1), w.T)
    return ((per_value**2).sum(axis=1) - w.sum(axis=1)) / 2.0


def _tau_b_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    n = x.size
    if n < 2:
        return np.full(w.shape[0], math.nan)
    # Σ_ij w_i w_j sign(x_i − x_j) sign(y_i − y_j) counts each pair of draws twice, once per order;
    # a pair with a tie in x or y contributes 0, as τ-b's numerator wants. Items in blocks of rows.
    twice_s = np.zeros(w.shape[0])
    block = max(1, _CELLS // n)
    for start in range(0, n, block):
        stop = min(n, start + block)
        concordance = np.sign(x[start:stop, None] - x[None, :]) * np.sign(y[start:stop, None] - y[None, :])
        twice_s += ((w[:, start:stop] @ concordance) * w).sum(axis=1)
    draws = w.sum(axis=1)
    n0 = draws * (draws - 1) / 2.0
    denominator = np.sqrt((n0 - _tied_pairs(x, w)) * (n0 - _tied_pairs(y, w)))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (twice_s / 2.0) / denominator
    return np.where(denominator > 0, tau, math.nan)


def _ranks_weighted(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average rank of each item within each resample (its draws share the ranks they span)."""
    _, groups = np.unique(x, return_inverse=True)
    groups = groups.reshape(-1)
    per_value = np.zeros((w.shape[0], groups.max() + 1 if groups.size else 0))
    np.add.at(per_value.T, groups, w.T)
    ends = np.cumsum(per_value, axis=1)
    return ((ends - per_value + 1 + ends) / 2.0)[:, groups]


def _spearman_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    if x.size < 2:
        return np.full(w.shape[0], math.nan)
    rx, ry = _ranks_weighted(x, w), _ranks_weighted(y, w)
    total = w.sum(axis=1, keepdims=True)
    dx = rx - (w * rx).sum(axis=1, keepdims=True) / total
    dy = ry - (w * ry).sum(axis=1, keepdims=True) / total
    cov, vx, vy = (w * dx * dy).sum(axis=1), (w * dx * dx).sum(axis=1), (w * dy * dy).sum(axis=1)
    # ranks are multiples of 0.5, so a constant column has exactly zero spread; guard rounding anyway
    ok = (vx > 1e-12) & (vy > 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, cov / np.sqrt(vx * vy), math.nan)
