"""The Calibrated Surprise math against numbers worked out by hand."""

import math

import pytest

from cqa_tasks.metric import (
    METRICS,
    VersionScore,
    aggregate,
    balanced_accuracy,
    constraint_overlap,
    item_record,
    lexical_units,
    match_metrics,
    mean_defined,
    pair_metrics,
    surprise_stratum,
    uncertainty_coefficient,
    win,
)

LN2 = math.log(2)


def test_version_score_components_in_bits():
    v = VersionScore(ll_cond=-10 * LN2, ll_uncond=-14 * LN2, n_bytes=8)
    assert v.pmi_bits == pytest.approx(4.0)
    assert v.surprise_bits == pytest.approx(14.0)
    assert v.residual_bits == pytest.approx(10.0)
    assert v.surprise_bits - v.residual_bits == pytest.approx(v.pmi_bits)  # I = S - R
    assert v.per_byte(v.pmi_bits) == pytest.approx(0.5)


def test_pair_metrics_hand_computed():
    # original: I = (-20 - -26)/ln2 nats->bits; choose values in units of ln2 for round numbers
    o = VersionScore(ll_cond=-20 * LN2, ll_uncond=-26 * LN2, n_bytes=10)  # I = 6 bits, S = 26, R = 20
    d = VersionScore(ll_cond=-18 * LN2, ll_uncond=-20 * LN2, n_bytes=8)  # I = 2 bits
    m = pair_metrics(o, d, overlap_original=0.1, overlap_degraded=0.3)
    assert set(m) == set(METRICS)
    assert m["delta_i"] == pytest.approx(4.0)
    assert m["pair_acc"] == 1.0
    assert m["delta_i_bpb"] == pytest.approx(6 / 10 - 2 / 8)
    assert m["i_orig"] == pytest.approx(6.0)
    assert m["i_orig_bpb"] == pytest.approx(0.6)
    assert m["surprise_orig_bpb"] == pytest.approx(2.6)
    assert m["residual_orig_bpb"] == pytest.approx(2.0)
    # baselines: the degraded twin has the higher ll_c and ll_u, and more overlap
    assert m["acc_cond_only"] == 0.0
    assert m["acc_uncond_only"] == 0.0
    assert m["acc_overlap"] == 0.0


def test_pair_metrics_reversed_and_tie():
    o = VersionScore(-5.0, -6.0, 4)
    d = VersionScore(-4.0, -6.0, 4)
    assert pair_metrics(o, d)["pair_acc"] == 0.0
    assert pair_metrics(o, o)["pair_acc"] == 0.5
    assert pair_metrics(o, o)["acc_overlap"] == 0.5  # 0.0 vs 0.0 overlap is a tie


def test_win():
    assert (win(2, 1), win(1, 2), win(1, 1)) == (1.0, 0.0, 0.5)


def test_item_record_keeps_raw_values():
    o = VersionScore(-1.0, -2.0, 3)
    d = VersionScore(-3.0, -3.5, 4)
    r = item_record("x-1", o, d)
    assert r["id"] == "x-1"
    assert (r["ll_c_orig"], r["ll_u_orig"], r["ll_c_degr"], r["ll_u_degr"]) == (-1.0, -2.0, -3.0, -3.5)
    assert r["i_orig"] == pytest.approx(1 / LN2)
    assert r["i_degr"] == pytest.approx(0.5 / LN2)
    assert r["delta_i"] == pytest.approx(0.5 / LN2)
    assert (r["bytes_orig"], r["bytes_degr"]) == (3, 4)


def test_match_metrics():
    own = VersionScore(-10.0, -12.0, 5)
    m = match_metrics(own, foreign_ll_cond=-10.0 - 2 * LN2)
    assert m["match_acc"] == 1.0
    assert m["match_margin"] == pytest.approx(2.0)


def test_lexical_units_en_and_zh():
    assert lexical_units("The Cat's cat, 42!") == ["the", "cat", "s", "cat"]
    assert lexical_units("老房子") == ["老房", "房子"]
    assert lexical_units("雪 a") == ["雪", "a"]


def test_constraint_overlap():
    y = {"intent": "grief shown", "audience": "adults", "reality": "winter"}
    assert constraint_overlap("grief in winter for adults now", y) == pytest.approx(3 / 6)
    assert constraint_overlap("", y) == 0.0
    assert constraint_overlap("老房子很冷", {"intent": "老房子", "audience": "", "reality": ""}) == pytest.approx(2 / 4)


def test_surprise_strata_and_u_hand_computed():
    # o: I = 6, S = 26 -> U = 6/26; d: I = 2, S = 20 -> U = 0.1. The original is the more surprising.
    o = VersionScore(ll_cond=-20 * LN2, ll_uncond=-26 * LN2, n_bytes=10)
    d = VersionScore(ll_cond=-18 * LN2, ll_uncond=-20 * LN2, n_bytes=8)
    assert surprise_stratum(o, d) == "up" and surprise_stratum(d, o) == "down" and surprise_stratum(o, o) is None
    assert uncertainty_coefficient(o) == pytest.approx(6 / 26)
    assert math.isnan(uncertainty_coefficient(VersionScore(0.0, 0.0, 1)))
    m = pair_metrics(o, d)
    assert m["share_s_up"] == 1.0
    assert (m["pair_acc_s_up"], m["pair_acc_s_down"], m["pair_acc_balanced"]) == (1.0, None, ["up", 1.0])
    assert m["u_pair_acc"] == 1.0 and m["delta_u"] == pytest.approx(6 / 26 - 0.1)
    assert (m["u_pair_acc_s_up"], m["u_pair_acc_s_down"]) == (1.0, None)
    # no foreign Y': the control and the contrast are undefined, not 0 or 0.5
    for key in ("pair_acc_foreign", "delta_i_foreign", "contrast_pair_acc", "delta_contrast",
                "contrast_pair_acc_s_up", "contrast_pair_acc_s_down", "contrast_pair_acc_balanced"):
        assert m[key] is None


def test_foreign_control_and_contrast_hand_computed():
    o = VersionScore(ll_cond=-20 * LN2, ll_uncond=-26 * LN2, n_bytes=10)  # I = 6
    d = VersionScore(ll_cond=-18 * LN2, ll_uncond=-20 * LN2, n_bytes=8)  # I = 2, dI = 4
    m = pair_metrics(o, d, foreign_ll_cond=(-21 * LN2, -19 * LN2))  # I'(o) = 5, I'(d) = 1, dI' = 4
    assert m["delta_i_foreign"] == pytest.approx(4.0) and m["pair_acc_foreign"] == 1.0
    # contrast = [ll_c(o) - ll_c'(o)] - [ll_c(d) - ll_c'(d)] = (1) - (1) = 0 bits: a tie
    assert m["delta_contrast"] == pytest.approx(0.0, abs=1e-12)
    m = pair_metrics(o, d, foreign_ll_cond=(-23 * LN2, -19 * LN2))  # I'(o) = 3, I'(d) = 1: dI' = 2, contrast 2
    assert m["delta_contrast"] == pytest.approx(2.0)
    assert (m["contrast_pair_acc"], m["contrast_pair_acc_s_up"], m["contrast_pair_acc_s_down"]) == (1.0, 1.0, None)
    assert m["contrast_pair_acc_balanced"] == ["up", 1.0]
    r = item_record("x", o, d, (-23 * LN2, -19 * LN2), "y")
    assert r["foreign_id"] == "y" and r["delta_contrast"] == pytest.approx(2.0)
    assert r["delta_s"] == pytest.approx(6.0) and r["stratum"] == "up"


def test_pooling_by_hand_and_empty_stratum():
    assert mean_defined([1.0, None, 0.0, None, 1.0]) == (pytest.approx(2 / 3), 3)
    nan, n = mean_defined([None, None])
    assert math.isnan(nan) and n == 0
    # up: 2 of 3 won; down: 1 of 4 won -> (2/3 + 1/4) / 2, not the pooled 3/7
    items = [["up", 1.0], ["up", 1.0], ["up", 0.0], ["down", 1.0], ["down", 0.0], ["down", 0.0], ["down", 0.0],
             [None, 1.0]]
    assert balanced_accuracy(items) == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert aggregate("pair_acc_balanced", items) == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert math.isnan(balanced_accuracy([["up", 1.0], ["up", 0.0]]))  # empty stratum: NaN, never 0.5
    assert aggregate("pair_acc_s_down", [None, 0.5, 1.0]) == pytest.approx(0.75)
    assert aggregate("pair_acc", [1.0, 0.0, 0.5]) == pytest.approx(0.5)


def test_metric_table_is_consistent():
    for family in ("pair_acc", "u_pair_acc", "contrast_pair_acc"):
        assert METRICS[f"{family}_s_up"].pooling == METRICS[f"{family}_s_down"].pooling == "defined"
        assert METRICS[f"{family}_balanced"].pooling == "balanced"
    assert {s.pooling for s in METRICS.values()} == {"mean", "defined", "balanced"}
