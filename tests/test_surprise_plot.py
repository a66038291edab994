"""The ΔI-against-ΔS view: points from samples rows, the fitted line, ρ and the strata, by hand."""

import math

import pytest

from leaderboard.surprise_plot import (
    SurprisePoint,
    caption,
    fit_line,
    plot_surprise,
    point_from_sample,
    spearman,
    stratum_accuracy,
)


def test_point_from_new_and_v1_era_rows():
    new = {"doc": {"group": "literary"}, "cqa_item": {"delta_s": 2.0, "delta_i": -1.0, "delta_contrast": 0.5}}
    assert point_from_sample(new) == SurprisePoint("literary", 2.0, -1.0, 0.5)
    old = {"doc": {"group": "factual"}, "cqa_item": {"s_orig": 10.0, "s_degr": 13.0, "delta_i": 0.25}}
    assert point_from_sample(old) == SurprisePoint("factual", -3.0, 0.25, None)
    assert point_from_sample({"doc": {}, "cqa_item": {"delta_i": 1.0}}) is None  # no S at all
    assert point_from_sample({"match_acc": 1.0}) is None


def test_fit_rho_and_strata_by_hand():
    pts = [SurprisePoint("literary", x, y) for x, y in ((-2, -3.0), (-1, 1.0), (1, 1.0), (3, 5.0))]
    slope, intercept = fit_line(pts)
    # mean x = 0.25, mean y = 1; Sxy = 2.25*4 + 1.25*0 + 0.75*0 + 2.75*4 = 20; Sxx = 5.0625+1.5625+0.5625+7.5625 = 14.75
    assert slope == pytest.approx(20 / 14.75) and intercept == pytest.approx(1 - 20 / 14.75 * 0.25)
    assert spearman(pts) == pytest.approx(0.9486832980505138)  # ranks (1,2,3,4) vs (1,2.5,2.5,4)
    assert stratum_accuracy(pts, up=True) == (1.0, 2)
    assert stratum_accuracy(pts, up=False) == (0.5, 2)
    assert math.isnan(spearman(pts, "contrast"))  # no contrast values: undefined, not 0
    assert fit_line(pts[:1]) is None
    text = caption(pts)
    assert text.startswith("literary: ρ(ΔI, ΔS) = +0.95; ΔI acc 1.00 where S(o) > S(d) (n=2), 0.50 where")


def test_plot_is_a_deterministic_png(tmp_path):
    pts = [SurprisePoint(g, float(k - 5), float((k * 7) % 5 - 2)) for k in range(11) for g in ("literary", "factual")]
    a = plot_surprise({"run a": pts, "run b": pts[:6]}, tmp_path / "a.png", "title")
    b = plot_surprise({"run a": pts, "run b": pts[:6]}, tmp_path / "b.png", "title")
    assert a.read_bytes()[:4] == b"\x89PNG" and a.read_bytes() == b.read_bytes()
    assert plot_surprise({"empty": []}, tmp_path / "c.png") is None and not (tmp_path / "c.png").exists()
