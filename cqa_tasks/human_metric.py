"""Agreement with human judgments: the scores of a text and their corpus-level aggregation (pure).

Each human-judged text x with its prompt Y (and Y', another record's prompt) is scored three times:
ll_c = log p(x | Y, H), ll_u = log p(x | H), ll_c' = log p(x | Y', H), in nats (prompts.text_requests).
From these, and from the text alone, SCORES below; docs/human_agreement.md defines them.

* `cqa_human_pairs`: per pair, each score picks the text with the higher value (0.5 on a tie);
  the metric `acc:<score>` is the share of pairs where that is the human's choice, with
  `acc_lo:<score>`, `acc_hi:<score>` its percentile bootstrap 95 % interval.
* `cqa_human_ratings`: per criterion c, `tau:<score>:<c>` is Kendall's τ-b between the score and the
  human rating over all texts of the task, `rho:<score>:<c>` Spearman's ρ, each with `_lo`/`_hi`.

lm-eval keeps one list of per-item values per metric name and hands the whole list to that name's
aggregation, so every name carries what its statistic needs: a pair's win, or a text's
[score, rating]. The aggregations (AGGREGATIONS; registered in cqa_tasks.lm_metrics) compute the
statistic over all items of the task at once: τ is never a mean of per-item values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cqa_tasks import agreement
from cqa_tasks.metric import LN2, constraint_overlap, passage_bytes


@dataclass(frozen=True)
class ScoreSpec:
    label: str  # how tables name it
    meaning: str  # what "the text with the higher value" means


SCORES: dict[str, ScoreSpec] = {
    "i": ScoreSpec("I (bits)", "Y explains more of the text: I = (ll_c − ll_u) / ln 2 (pairs: ΔI > 0)"),
    "i_bpb": ScoreSpec("I per byte", "the same, per UTF-8 byte of the text"),
    "u": ScoreSpec("U = I/S", "Y explains a larger share of the text's surprise"),
    "contrast": ScoreSpec("contrast I − I′", "the text fits its own prompt better than a foreign one: (ll_c − ll_c′) / ln 2"),
    "s_bpb": ScoreSpec("S per byte", "the more surprising text wins: S = −ll_u / ln 2 per byte"),
    "neg_s_bpb": ScoreSpec("−S per byte (perplexity)", "the less surprising text wins (lower perplexity)"),
    "ll_c": ScoreSpec("ll_c", "higher log p(text | prompt) wins (GPTScore-like)"),
    "ll_u": ScoreSpec("ll_u", "higher log p(text) wins"),
    "length": ScoreSpec("length", "the longer text wins (UTF-8 bytes; no model)"),
    "overlap": ScoreSpec("overlap with prompt", "the text sharing more words with its prompt wins (no model)"),
}
PAIR_STATS = ("acc", "acc_lo", "acc_hi")
RATING_STATS = ("tau", "tau_lo", "tau_hi", "rho", "rho_lo", "rho_hi")
# lm-eval aggregation of each statistic (registered under these names in cqa_tasks.lm_metrics)
AGGREGATION_OF_STAT = {
    "acc": "cqa_accuracy", "acc_lo": "cqa_accuracy_ci_lo", "acc_hi": "cqa_accuracy_ci_hi",
    "tau": "cqa_kendall_tau_b", "tau_lo": "cqa_kendall_tau_b_ci_lo", "tau_hi": "cqa_kendall_tau_b_ci_hi",
    "rho": "cqa_spearman_rho", "rho_lo": "cqa_spearman_rho_ci_lo", "rho_hi": "cqa_spearman_rho_ci_hi",
}  # fmt: skip
HUMAN_ITEM_METRIC = "cqa_human_item"  # the per-item record in the samples log; its row is the item count
NAME_SEP = ":"  # not allowed in criterion names (human_data), so every metric name parses back


def pair_metric(stat: str, score: str) -> str:
    return f"{stat}{NAME_SEP}{score}"


def rating_metric(stat: str, score: str, criterion: str) -> str:
    return f"{stat}{NAME_SEP}{score}{NAME_SEP}{criterion}"


def pair_metric_names() -> list[str]:
    return [pair_metric(stat, score) for score in SCORES for stat in PAIR_STATS]


def rating_metric_names(criteria: Sequence[str]) -> list[str]:
    return [rating_metric(stat, s, c) for s in SCORES for c in criteria for stat in RATING_STATS]


def stat_of(metric_name: str) -> str:
    return metric_name.split(NAME_SEP, 1)[0]


# ------------------------------------------------------------------------------ per text, per item


@dataclass(frozen=True)
class TextLikelihoods:
    """The log-likelihoods (nats) of one text, its length in UTF-8 bytes and its overlap with Y."""

    ll_cond: float
    ll_uncond: float
    ll_foreign: float | None
    n_bytes: int
    overlap: float


def text_scores(t: TextLikelihoods) -> dict[str, float | None]:
    """Every score of SCORES for one text; None where it is undefined (no Y'; U when S <= 0)."""
    i = (t.ll_cond - t.ll_uncond) / LN2
    s = -t.ll_uncond / LN2
    per_byte = max(1, t.n_bytes)
    return {
        "i": i,
        "i_bpb": i / per_byte,
        "u": i / s if s > 0 else None,
        "contrast": None if t.ll_foreign is None else (t.ll_cond - t.ll_foreign) / LN2,
        "s_bpb": s / per_byte,
        "neg_s_bpb": -s / per_byte,
        "ll_c": t.ll_cond,
        "ll_u": t.ll_uncond,
        "length": float(t.n_bytes),
        "overlap": t.overlap,
    }


def _likelihoods(text: str, prompt: str, ll_cond: float, ll_uncond: float, ll_foreign: float | None) -> TextLikelihoods:
    return TextLikelihoods(ll_cond, ll_uncond, ll_foreign, passage_bytes(text), constraint_overlap(text, {"prompt": prompt}))


def _record(t: TextLikelihoods, scores: Mapping[str, float | None]) -> dict:
    return {"ll_c": t.ll_cond, "ll_u": t.ll_uncond, "ll_cf": t.ll_foreign, "bytes": t.n_bytes, "scores": dict(scores)}


def pair_results(doc: Mapping, lls: Sequence[float]) -> dict:
    """The per-item values of a pair from its log-likelihoods in prompts.human_pair_requests order
    (chosen | Y, chosen, rejected | Y, rejected[, chosen | Y', rejected | Y'])."""
    foreign = (lls[4], lls[5]) if len(lls) == 6 else (None, None)
    chosen = _likelihoods(doc["chosen"], doc["prompt"], lls[0], lls[1], foreign[0])
    rejected = _likelihoods(doc["rejected"], doc["prompt"], lls[2], lls[3], foreign[1])
    sc, sr = text_scores(chosen), text_scores(rejected)
    out: dict = {}
    for score in SCORES:
        won = None if sc[score] is None or sr[score] is None else agreement.win(sc[score], sr[score])
        out |= {pair_metric(stat, score): won for stat in PAIR_STATS}
    out[HUMAN_ITEM_METRIC] = {
        "id": doc["id"],
        "foreign_id": doc.get("foreign_id"),
        "chosen": _record(chosen, sc),
        "rejected": _record(rejected, sr),
        # per pair as differences: chosen − rejected (> 0: the score agrees with the human)
        "delta": {k: None if sc[k] is None or sr[k] is None else sc[k] - sr[k] for k in SCORES},
    }
    return out


def rating_results(doc: Mapping, lls: Sequence[float], criteria: Sequence[str]) -> dict:
    """The per-item values of a rated text from its log-likelihoods (text | Y, text[, text | Y'])."""
    t = _likelihoods(doc["text"], doc["prompt"], lls[0], lls[1], lls[2] if len(lls) == 3 else None)
    scores = text_scores(t)
    human = doc["human"]
    out: dict = {}
    for score in SCORES:
        for c in criteria:
            pair = [scores[score], human[c]]
            out |= {rating_metric(stat, score, c): pair for stat in RATING_STATS}
    out[HUMAN_ITEM_METRIC] = {"id": doc["id"], "foreign_id": doc.get("foreign_id"), **_record(t, scores),
                              "human": {c: human[c] for c in criteria}}  # fmt: skip
    return out


# ------------------------------------------------------------------------------ corpus-level aggregation
# lm-eval calls the value and both bounds of one statistic on the same item list, one after the
# other: the estimate (with its bootstrap) is computed once and kept for the next calls.


@lru_cache(maxsize=8)
def _accuracy(wins: tuple) -> agreement.Estimate:
    return agreement.accuracy_estimate(wins)


@lru_cache(maxsize=8)
def _tau(pairs: tuple) -> agreement.Estimate:
    return agreement.tau_b_estimate([p[0] for p in pairs], [p[1] for p in pairs])


@lru_cache(maxsize=8)
def _rho(pairs: tuple) -> agreement.Estimate:
    return agreement.spearman_estimate([p[0] for p in pairs], [p[1] for p in pairs])


def _wins(items: Sequence) -> tuple:
    return tuple(None if v is None else float(v) for v in items)


def _pairs(items: Sequence) -> tuple:
    return tuple((None if s is None else float(s), None if h is None else float(h)) for s, h in items)


def _field(estimate: Callable[[tuple], agreement.Estimate], prepare: Callable, part: str) -> Callable[[Sequence], float]:
    def aggregate(items: Sequence) -> float:
        return float(getattr(estimate(prepare(items)), part))

    aggregate.__name__ = f"{estimate.__name__.strip('_')}_{part}"
    return aggregate


AGGREGATIONS: dict[str, Callable[[Sequence], float]] = {
    AGGREGATION_OF_STAT[f"{stat}{suffix}"]: _field(estimate, prepare, part)
    for stat, estimate, prepare in (("acc", _accuracy, _wins), ("tau", _tau, _pairs), ("rho", _rho, _pairs))
    for suffix, part in (("", "value"), ("_lo", "low"), ("_hi", "high"))
}
