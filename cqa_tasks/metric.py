"""Calibrated Surprise: the pure math (no I/O, no lm-eval, no torch).

For one benchmark item, a causal LM scores each version v of the passage (o = original,
d = degraded twin) twice, with the same neutral header H ending both contexts:

    ll_c(v) = log p(x_v | Y, H)      conditional on the constraint text Y   (nats)
    ll_u(v) = log p(x_v | H)         the same header, no constraints         (nats)
    I(v)    = (ll_c(v) - ll_u(v)) / ln 2                pointwise mutual information, bits
    S(v)    = -ll_u(v) / ln 2        surprise  (~ H(X))
    R(v)    = -ll_c(v) / ln 2        residual  (~ H(X|Y)),   so I = S - R
    dI      = I(o) - I(d)            > 0 means the reader prefers the original given Y

See design.md section 2. Every function here is deterministic and unit-tested by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

LN2 = math.log(2.0)

# Metric names reported per task, in table order. `higher_is_better` is True for all of them
# except the two component scores, whose direction is descriptive rather than a goal.
AGGREGATED_METRICS: dict[str, bool] = {
    "pair_acc": True,  # 1[dI > 0], 0.5 on a tie
    "delta_i": True,  # mean dI, bits
    "delta_i_bpb": True,  # mean of I(o)/bytes(o) - I(d)/bytes(d), bits per UTF-8 byte
    "i_orig": True,  # mean I(o), bits
    "i_orig_bpb": True,
    "surprise_orig_bpb": True,  # S(o) per byte; theory: good writing is less predictable
    "residual_orig_bpb": False,  # R(o) per byte
    "acc_cond_only": True,  # baseline: higher ll_c wins (GPTScore-like)
    "acc_uncond_only": True,  # baseline: higher ll_u wins (lower perplexity wins)
    "acc_overlap": True,  # baseline, no model: more words shared with Y wins
}
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


def pair_metrics(
    original: VersionScore,
    degraded: VersionScore,
    overlap_original: float = 0.0,
    overlap_degraded: float = 0.0,
) -> dict[str, float]:
    """Every aggregated metric of AGGREGATED_METRICS for one item."""
    i_o, i_d = original.pmi_bits, degraded.pmi_bits
    return {
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
    }


def item_record(item_id: str, original: VersionScore, degraded: VersionScore) -> dict[str, float | int | str]:
    """The per-item values kept in the samples log (nats for ll, bits for I, S, R)."""
    record: dict[str, float | int | str] = {"id": item_id}
    for name, v in (("orig", original), ("degr", degraded)):
        record.update(
            {
                f"ll_c_{name}": v.ll_cond,
                f"ll_u_{name}": v.ll_uncond,
                f"i_{name}": v.pmi_bits,
                f"s_{name}": v.surprise_bits,
                f"r_{name}": v.residual_bits,
                f"bytes_{name}": v.n_bytes,
            }
        )
    record["delta_i"] = original.pmi_bits - degraded.pmi_bits
    return record


def match_metrics(own: VersionScore, foreign_ll_cond: float) -> dict[str, float]:
    """Sanity control: does the original fit its own constraints better than a foreign item's?

    Both use the same unconditional score, so the margin is simply the ll_c difference in bits.
    """
    margin = (own.ll_cond - foreign_ll_cond) / LN2
    return {"match_acc": win(own.ll_cond, foreign_ll_cond), "match_margin": margin}
