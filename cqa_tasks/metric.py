"""Calibrated Surprise: the pure math (no I/O, no lm-eval, no torch).

For one benchmark item, a causal LM scores each version v of the passage (o = original,
d = degraded twin) twice, with the same neutral header H ending both contexts:

    ll_c(v) = log p(x_v | Y, H)      conditional on the constraint text Y   (nats)
    ll_u(v) = log p(x_v | H)         the same header, no constraints         (nats)
    I(v)    = (ll_c(v) - ll_u(v)) / ln 2                pointwise mutual information, bits
    S(v)    = -ll_u(v) / ln 2        surprise  (~ H(X))
    R(v)    = -ll_c(v) / ln 2        residual  (~ H(X|Y)),   so I = S - R
    dI      = I(o) - I(d)            > 0 means the reader prefers the original given Y

See docs/metric.md. Every function here is deterministic and unit-tested by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

LN2 = math.log(2.0)

# Metric names reported per task, in table order, and how each pools over items (docs/metric.md):
#   "mean"      the mean over every item;
#   "defined"   the mean over the items where the value is defined (a surprise stratum; items that
#               have a foreign Y'); the others carry None;
#   "balanced"  the mean of the two strata's accuracies (each item carries [stratum, win]).
# `higher_is_better` is True except for the residual, whose direction is descriptive.
@dataclass(frozen=True)
class MetricSpec:
    higher_is_better: bool
    pooling: str  # "mean" | "defined" | "balanced"
    unit: str  # "acc" (a share, chance 0.5), "bits", "bpb" (bits per UTF-8 byte), "ratio"


def _acc(pooling: str = "mean") -> MetricSpec:
    return MetricSpec(True, pooling, "acc")


METRICS: dict[str, MetricSpec] = {
    # I (pointwise mutual information) and its pair score
    "pair_acc": _acc(),  # 1[dI > 0], 0.5 on a tie
    "delta_i": MetricSpec(True, "mean", "bits"),  # mean dI
    "delta_i_bpb": MetricSpec(True, "mean", "bpb"),  # mean of I(o)/bytes(o) - I(d)/bytes(d)
    "i_orig": MetricSpec(True, "mean", "bits"),
    "i_orig_bpb": MetricSpec(True, "mean", "bpb"),
    "surprise_orig_bpb": MetricSpec(True, "mean", "bpb"),  # S(o) per byte
    "residual_orig_bpb": MetricSpec(False, "mean", "bpb"),  # R(o) per byte
    # baselines
    "acc_cond_only": _acc(),  # higher ll_c wins (GPTScore-like)
    "acc_uncond_only": _acc(),  # higher ll_u wins (lower perplexity wins)
    "acc_overlap": _acc(),  # no model: more words shared with Y wins
    # the surprise strata: "up" = the original is the more surprising version, S(o) > S(d)
    "share_s_up": _acc(),  # share of pairs in the "up" stratum (= 1 - acc_uncond_only)
    "pair_acc_s_up": _acc("defined"),
    "pair_acc_s_down": _acc("defined"),
    "pair_acc_balanced": _acc("balanced"),
    # U = I / S, the share of the passage's surprise that Y explains (uncertainty coefficient)
    "u_pair_acc": _acc(),
    "delta_u": MetricSpec(True, "mean", "ratio"),
    "u_pair_acc_s_up": _acc("defined"),
    "u_pair_acc_s_down": _acc("defined"),
    "u_pair_acc_balanced": _acc("balanced"),
    # the foreign-constraint control Y' (another item's constraints) and the contrast dI(Y) - dI(Y')
    "pair_acc_foreign": _acc("defined"),  # high: the preference is not about these constraints
    "delta_i_foreign": MetricSpec(True, "defined", "bits"),
    "contrast_pair_acc": _acc("defined"),
    "delta_contrast": MetricSpec(True, "defined", "bits"),
    "contrast_pair_acc_s_up": _acc("defined"),
    "contrast_pair_acc_s_down": _acc("defined"),
    "contrast_pair_acc_balanced": _acc("balanced"),
}
# lm-eval's aggregation name for each pooling (registered in cqa_tasks.lm_metrics; used in the YAML).
AGGREGATION_OF_POOLING = {"mean": "mean", "defined": "cqa_mean_defined", "balanced": "cqa_balanced"}
# The primary score (docs/metric.md, "Which score is primary"): the contrast, balanced over strata.
PRIMARY_METRIC = "contrast_pair_acc_balanced"
# The metrics that are plain per-item means (what CQA-Bench v1 results files carry, and more).
AGGREGATED_METRICS: dict[str, bool] = {n: s.higher_is_better for n, s in METRICS.items() if s.pooling == "mean"}
# Stratified families: score prefix -> the per-item pair accuracy it stratifies.
STRATIFIED = {"pair_acc": "pair_acc", "u_pair_acc": "u_pair_acc", "contrast_pair_acc": "contrast_pair_acc"}
STRATA = ("up", "down")
# Per-item record kept in lm-eval's samples log; its table row is the number of pairs scored.
ITEM_METRIC = "cqa_item"


@dataclass(frozen=True)
class VersionScore:
    """Log-likelihoods (nats) of one version of a passage, and its length in UTF-8 bytes."""

    ll_cond: float
    ll_uncond: float
    n_bytes: int

    @property
    def pmi_bits(self) -> float:
        return (self.ll_cond - self.ll_uncond) / LN2

    @property
    def surprise_bits(self) -> float:
        return -self.ll_uncond / LN2

    @property
    def residual_bits(self) -> float:
        return -self.ll_cond / LN2

    def per_byte(self, bits: float) -> float:
        return bits / max(1, self.n_bytes)


def win(a: float, b: float) -> float:
    """1.0 if a > b, 0.0 if a < b, 0.5 on an exact tie (a coin flip, in expectation)."""
    if a > b:
        return 1.0
    if a < b:
        return 0.0
    return 0.5


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def lexical_units(text: str) -> list[str]:
    """Words for overlap counting: lower-cased letter runs, and CJK character bigrams.

    Chinese has no spaces, and single characters overlap by accident far too often, so runs of
    CJK characters contribute their bigrams (a lone character counts as itself).
    """
    units: list[str] = []
    for run in _CJK_RUN.findall(text):
        units.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    units.extend(w.lower() for w in _WORD.findall(_CJK_RUN.sub(" ", text)))
    return units


def constraint_overlap(passage: str, constraints: Mapping[str, str]) -> float:
    """Share of the passage's lexical units that also occur in the constraint text (0..1)."""
    vocabulary = set(lexical_units(" ".join(constraints.values())))
    units = lexical_units(passage)
    if not units:
        return 0.0
    return sum(u in vocabulary for u in units) / len(units)


def surprise_stratum(original: VersionScore, degraded: VersionScore) -> str | None:
    """"up" when the original is the more surprising version (S(o) > S(d)), "down" when the twin is,
    None on an exact tie (such a pair belongs to neither stratum)."""
    if original.surprise_bits > degraded.surprise_bits:
        return "up"
    if original.surprise_bits < degraded.surprise_bits:
        return "down"
    return None


def uncertainty_coefficient(v: VersionScore) -> float:
    """U = I / S: the share of the passage's surprise that Y explains (NaN if S is not positive)."""
    s = v.surprise_bits
    return v.pmi_bits / s if s > 0 else math.nan


def stratified(prefix: str, stratum: str | None, won: float) -> dict[str, float | list | None]:
    """An item's values of a stratified family: its win in its own stratum (None in the other),
    and [stratum, win] for the balanced accuracy."""
    return {
        f"{prefix}_s_up": won if stratum == "up" else None,
        f"{prefix}_s_down": won if stratum == "down" else None,
        f"{prefix}_balanced": [stratum, won],
    }


def pair_metrics(
    original: VersionScore,
    degraded: VersionScore,
    overlap_original: float = 0.0,
    overlap_degraded: float = 0.0,
    foreign_ll_cond: tuple[float, float] | None = None,
) -> dict[str, float | list | None]:
    """Every metric of METRICS for one item.

    `foreign_ll_cond` is (log p(o | Y', H), log p(d | Y', H)) in nats, with Y' a foreign item's
    constraints; without it the foreign and contrast metrics are None (not defined for this item).
    """
    i_o, i_d = original.pmi_bits, degraded.pmi_bits
    u_o, u_d = uncertainty_coefficient(original), uncertainty_coefficient(degraded)
    stratum = surprise_stratum(original, degraded)
    out: dict[str, float | list | None] = {
        "pair_acc": win(i_o, i_d),
        "delta_i": i_o - i_d,
        "delta_i_bpb": original.per_byte(i_o) - degraded.per_byte(i_d),
        "i_orig": i_o,
        "i_orig_bpb": original.per_byte(i_o),
        "surprise_orig_bpb": original.per_byte(original.surprise_bits),
        "residual_orig_bpb": original.per_byte(original.residual_bits),
        "acc_cond_only": win(original.ll_cond, degraded.ll_cond),
        "acc_uncond_only": win(original.ll_uncond, degraded.ll_uncond),
        "acc_overlap": win(overlap_original, overlap_degraded),
        "share_s_up": win(original.surprise_bits, degraded.surprise_bits),
        **stratified("pair_acc", stratum, win(i_o, i_d)),
        "u_pair_acc": win(u_o, u_d),
        "delta_u": u_o - u_d,
        **stratified("u_pair_acc", stratum, win(u_o, u_d)),
    }
    if foreign_ll_cond is None:
        out |= {"pair_acc_foreign": None, "delta_i_foreign": None, "contrast_pair_acc": None, "delta_contrast": None}
        out |= {k: None for k in stratified("contrast_pair_acc", None, 0.0)}
        return out
    i_o_foreign = (foreign_ll_cond[0] - original.ll_uncond) / LN2
    i_d_foreign = (foreign_ll_cond[1] - degraded.ll_uncond) / LN2
    delta_foreign = i_o_foreign - i_d_foreign
    # dI(Y) - dI(Y'): the unconditional terms cancel, so "any context helps rare text" does too.
    contrast = (i_o - i_d) - delta_foreign
    out |= {
        "pair_acc_foreign": win(delta_foreign, 0.0),
        "delta_i_foreign": delta_foreign,
        "contrast_pair_acc": win(contrast, 0.0),
        "delta_contrast": contrast,
        **stratified("contrast_pair_acc", stratum, win(contrast, 0.0)),
    }
    return out


def item_record(
    item_id: str,
    original: VersionScore,
    degraded: VersionScore,
    foreign_ll_cond: tuple[float, float] | None = None,
    foreign_id: str | None = None,
) -> dict[str, float | int | str | None]:
    """The per-item values kept in the samples log (nats for ll, bits for I, S, R)."""
    record: dict[str, float | int | str | None] = {"id": item_id}
    for k, (name, v) in enumerate((("orig", original), ("degr", degraded))):
        record.update(
            {
                f"ll_c_{name}": v.ll_cond,
                f"ll_u_{name}": v.ll_uncond,
                f"i_{name}": v.pmi_bits,
                f"s_{name}": v.surprise_bits,
                f"r_{name}": v.residual_bits,
                f"u_{name}": uncertainty_coefficient(v),
                f"bytes_{name}": v.n_bytes,
            }
        )
        if foreign_ll_cond is not None:
            record[f"ll_cf_{name}"] = foreign_ll_cond[k]
    record["delta_i"] = original.pmi_bits - degraded.pmi_bits
    record["delta_s"] = original.surprise_bits - degraded.surprise_bits
    record["stratum"] = surprise_stratum(original, degraded)
    if foreign_ll_cond is not None:
        record["foreign_id"] = foreign_id
        record["delta_contrast"] = (original.ll_cond - foreign_ll_cond[0] - degraded.ll_cond + foreign_ll_cond[1]) / LN2
    return record


def passage_bytes(text: str) -> int:
    """Length of a passage as scored (stripped), in UTF-8 bytes: the unit of the per-byte values."""
    return len(text.strip().encode("utf-8"))


def score_item(item: Mapping, lls: Sequence[float]) -> dict:
    """Every metric of METRICS for one item, plus its per-item record under ITEM_METRIC, from the
    log-likelihoods of its requests in prompts.pair_requests order (4, or 6 with a foreign Y')."""
    original = VersionScore(lls[0], lls[1], passage_bytes(item["original"]))
    degraded = VersionScore(lls[2], lls[3], passage_bytes(item["degraded"]))
    foreign = (lls[4], lls[5]) if len(lls) == 6 else None
    out = pair_metrics(
        original,
        degraded,
        constraint_overlap(item["original"], item["constraints"]),
        constraint_overlap(item["degraded"], item["constraints"]),
        foreign_ll_cond=foreign,
    )
    out[ITEM_METRIC] = item_record(item.get("id", ""), original, degraded, foreign, item.get("foreign_id"))
    return out


# ------------------------------------------------------------------------------------ pooling


def mean_defined(values: Iterable[float | None]) -> tuple[float, int]:
    """(mean over the values that are defined, how many there were); (NaN, 0) when none are."""
    defined = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not defined:
        return math.nan, 0
    return math.fsum(defined) / len(defined), len(defined)


def stratum_counts(values: Iterable[Sequence]) -> dict[str, tuple[float, int]]:
    """Per stratum: (sum of wins, number of pairs), from per-item [stratum, win] values (None: undefined)."""
    out = {s: (0.0, 0) for s in STRATA}
    for value in values:
        if value is None:
            continue
        stratum, won = value
        if stratum in out:
            total, n = out[stratum]
            out[stratum] = (total + float(won), n + 1)
    return out


def balanced_from_counts(counts: Mapping[str, tuple[float, int]]) -> float:
    """Mean of the two strata's accuracies; NaN when a stratum is empty (no silent 0.5)."""
    if any(counts[s][1] == 0 for s in STRATA):
        return math.nan
    return sum(counts[s][0] / counts[s][1] for s in STRATA) / len(STRATA)


def balanced_accuracy(values: Iterable[Sequence]) -> float:
    return balanced_from_counts(stratum_counts(values))


def aggregate(name: str, values: Sequence) -> float:
    """The task-level value of metric `name` over per-item values, exactly as METRICS defines it."""
    pooling = METRICS[name].pooling
    if pooling == "balanced":
        return balanced_accuracy(values)
    if pooling == "defined":
        return mean_defined(values)[0]
    return math.fsum(values) / len(values) if values else math.nan


def match_metrics(own: VersionScore, foreign_ll_cond: float) -> dict[str, float]:
    """Sanity control: does the original fit its own constraints better than a foreign item's?

    Both use the same unconditional score, so the margin is simply the ll_c difference in bits.
    """
    margin = (own.ll_cond - foreign_ll_cond) / LN2
    return {"match_acc": win(own.ll_cond, foreign_ll_cond), "match_margin": margin}
