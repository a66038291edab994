"""Paired statistics for `cqa compare`: the pure math (no I/O, no plotting).

The input is one vector of per-item differences, e.g. Δ(ΔI)_i = ΔI_i(model) − ΔI_i(reference) in bits,
paired by item id. Everything here is deterministic given `seed` and unit-tested against scipy and
against a direct numpy bootstrap.

Conventions for degenerate inputs (so a report never crashes on a thin cell):

    n == 0                     every statistic is nan
    n == 1                     mean is the value; ci, wilcoxon_p and cohens_d are nan (no spread to use)
    n >= 2, all differences 0  mean 0, ci (0, 0), wilcoxon_p = 1.0 (no evidence of an improvement;
                               scipy would drop every zero and emit a warning), cohens_d nan (0 / 0)
    sd == 0 otherwise          cohens_d nan (d is undefined without spread)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

N_RESAMPLES = 10_000
CONFIDENCE = 0.95
# Rows of the resample index matrix drawn per step: bounds memory (chunk x n ints) on large runs.
# Drawing in row chunks from one Generator yields exactly the same stream as one (n_resamples, n) call.
_CHUNK = 1_000

WILCOXON_ZERO_METHOD = "wilcox"  # scipy's default: zero differences are dropped before ranking
WILCOXON_METHOD = "auto"  # scipy's default: exact null distribution for small n, else normal approx.


@dataclass(frozen=True)
class PairedSummary:
    n: int
    mean: float
    ci_low: float
    ci_high: float
    wilcoxon_p: float
    cohens_d: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _as_vector(diffs: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(diffs, dtype=float).reshape(-1)
    if not np.all(np.isfinite(x)):
        raise ValueError("paired differences must be finite numbers (found nan or inf)")
    return x


def bootstrap_mean_ci(
    diffs: Sequence[float] | np.ndarray,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean.

    Equivalent to: rng = np.random.default_rng(seed); idx = rng.integers(0, n, size=(n_resamples, n));
    np.percentile(x[idx].mean(axis=1), [50 * (1 - confidence), 50 * (1 + confidence)]).
    """
    x = _as_vector(diffs)
    n = x.size
    if n < 2:
        return math.nan, math.nan
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, _CHUNK):
        stop = min(start + _CHUNK, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = 1.0 - confidence
    lo, hi = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def wilcoxon_greater(diffs: Sequence[float] | np.ndarray) -> float:
    """One-sided Wilcoxon signed-rank p for H1: the differences are shifted above 0.

    scipy.stats.wilcoxon(alternative="greater") with scipy's defaults (zero_method="wilcox": zeros
    dropped; method="auto"). n < 2 gives nan; all-zero differences give 1.0 (see module docstring).
    """
    x = _as_vector(diffs)
    if x.size < 2:
        return math.nan
    if not np.any(x):
        return 1.0
    from scipy.stats import wilcoxon

    with warnings.catch_warnings():
        # small-n / ties notes from scipy would clutter CLI output; the p-value is unchanged
        warnings.simplefilter("ignore")
        res = wilcoxon(x, alternative="greater", zero_method=WILCOXON_ZERO_METHOD, method=WILCOXON_METHOD)
    return float(res.pvalue)


def cohens_d_paired(diffs: Sequence[float] | np.ndarray) -> float:
    """Paired Cohen's d (d_z): mean of the differences / their sample sd (ddof=1); nan if undefined."""
    x = _as_vector(diffs)
    if x.size < 2:
        return math.nan
    sd = float(np.std(x, ddof=1))
    if sd == 0.0:
        return math.nan
    return float(np.mean(x)) / sd


def paired_summary(
    diffs: Sequence[float] | np.ndarray,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> PairedSummary:
    """n, mean, bootstrap CI of the mean, one-sided Wilcoxon p (H1: > 0) and paired Cohen's d."""
    x = _as_vector(diffs)
    n = int(x.size)
    if n == 0:
        return PairedSummary(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    lo, hi = bootstrap_mean_ci(x, seed=seed, n_resamples=n_resamples, confidence=confidence)
    return PairedSummary(
        n=n,
        mean=float(np.mean(x)),
        ci_low=lo,
        ci_high=hi,
        wilcoxon_p=wilcoxon_greater(x),
        cohens_d=cohens_d_paired(x),
    )
