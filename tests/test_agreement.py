"""cqa_tasks.agreement: τ-b, Spearman, accuracy and their bootstrap, by hand and against scipy."""

import math

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from cqa_tasks import agreement as ag

# x ties on items 1 and 2, y on items 2 and 3. Pairs: (0,1) (0,2) (0,3) concordant, (1,3) discordant,
# (1,2) tied in x, (2,3) tied in y. τ-b = (3 − 1) / sqrt((6 − 1)(6 − 1)) = 0.4.
# Average ranks: x [1, 2.5, 2.5, 4], y [1, 4, 2.5, 2.5]; deviations from 2.5 give
# cov = 2.25, var = 4.5 each, so ρ = 0.5.
X = [1.0, 2.0, 2.0, 3.0]
Y = [1.0, 3.0, 2.0, 2.0]


def test_tau_b_and_spearman_by_hand_with_ties():
    assert ag.kendall_tau_b(X, Y) == pytest.approx(0.4)
    assert ag.spearman_rho(X, Y) == pytest.approx(0.5)
    assert list(ag.average_ranks(X)) == [1.0, 2.5, 2.5, 4.0]
    # perfectly reversed, no ties
    assert ag.kendall_tau_b([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_accuracy_counts_ties_as_half_and_skips_undefined():
    assert ag.win(2, 1) == 1.0 and ag.win(1, 2) == 0.0 and ag.win(1, 1) == 0.5
    assert ag.accuracy([1.0, 0.0, 0.5, 1.0, None, math.nan]) == pytest.approx(0.625)
    assert math.isnan(ag.accuracy([None]))


def test_undefined_inputs_give_nan():
    assert math.isnan(ag.kendall_tau_b([1.0], [2.0]))
    assert math.isnan(ag.kendall_tau_b([1, 1, 1], [1, 2, 3]))  # nothing to rank in x
    assert math.isnan(ag.spearman_rho([1, 2, 3], [5, 5, 5]))
    # missing values drop their item: the same as the complete pairs alone
    assert ag.kendall_tau_b([*X, None, 4.0], [*Y, 1.0, math.nan]) == pytest.approx(0.4)
    e = ag.tau_b_estimate([1.0], [2.0])
    assert e.n == 1 and math.isnan(e.low) and math.isnan(e.high)


@pytest.mark.parametrize("n", [2, 3, 7, 50, 400])
def test_against_scipy_with_many_ties(n):
    rng = np.random.default_rng(n)
    x = rng.integers(0, 5, n).astype(float)
    y = rng.integers(0, 3, n) + 0.3 * x
    if len(set(x)) > 1 and len(set(y)) > 1:
        assert ag.kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)
        assert ag.spearman_rho(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    z = rng.normal(size=n)  # continuous: no ties
    assert ag.kendall_tau_b(z, y) == pytest.approx(kendalltau(z, y).statistic, abs=1e-12)


def test_bootstrap_by_hand():
    """Three pairs, four resamples: every draw and every resampled accuracy written out."""
    wins = [1.0, 0.0, 0.5]
    idx = np.random.default_rng(7).integers(0, 3, size=(4, 3))
    means = sorted(sum(wins[i] for i in row) / 3 for row in idx)
    # numpy's linear percentile of 4 sorted values at 2.5 % and 97.5 %: positions 0.075 and 2.925
    low = means[0] + 0.075 * (means[1] - means[0])
    high = means[2] + 0.925 * (means[3] - means[2])
    e = ag.accuracy_estimate(wins, n_resamples=4, seed=7)
    assert (e.value, e.n) == (0.5, 3)
    assert (e.low, e.high) == (pytest.approx(low), pytest.approx(high))
    assert ag.bootstrap_interval(lambda w: float(np.mean(w)), [wins], 4, 7) == (pytest.approx(low), pytest.approx(high))


def test_fast_bootstrap_equals_direct_resampling():
    """The count-vector paths give the reference's numbers from the same draws (ties and repeats included)."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 40).astype(float)
    y = np.round(x + rng.normal(size=40), 0)
    for fast, stat in ((ag.tau_b_estimate, ag.kendall_tau_b), (ag.spearman_estimate, ag.spearman_rho)):
        e = fast(x, y, n_resamples=300, seed=11)
        low, high = ag.bootstrap_interval(stat, [x, y], 300, 11)
        assert (e.low, e.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
        assert low < e.value < high
    wins = rng.choice([0.0, 0.5, 1.0], size=40)
    e = ag.accuracy_estimate(wins, 300, 11)
    assert (e.low, e.high) == ag.bootstrap_interval(lambda w: float(np.mean(w)), [wins], 300, 11)


def test_resample_blocks_are_one_stream():
    n = 5000  # more than one block of rows at this size
    blocks = list(ag.resample_indices(n, 1000, seed=5))
    assert len(blocks) > 1
    assert np.array_equal(np.concatenate(blocks), np.random.default_rng(5).integers(0, n, size=(1000, n)))


def test_interval_is_seeded():
    x, y = list(range(30)), [v % 7 for v in range(30)]
    assert ag.tau_b_estimate(x, y, seed=1) == ag.tau_b_estimate(x, y, seed=1)
    assert ag.tau_b_estimate(x, y, seed=1) != ag.tau_b_estimate(x, y, seed=2)
