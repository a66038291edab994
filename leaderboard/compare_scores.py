"""The surprise-controlled scores in `cqa compare` (docs/metric.md): pure math, no I/O.

Per model and group: the primary score (contrast pair accuracy balanced over the surprise strata)
of the reference and of the model on the paired items, their difference with a paired percentile
bootstrap 95 % CI, and the contrast pair accuracy in each stratum. Each run's strata come from its
own reader's surprise S, as in the task; the Δ(ΔI) rows split by stratum use the reference's.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

from cqa_tasks.metric import PRIMARY_METRIC, STRATA, balanced_accuracy

StratumWin = tuple[str | None, float] | None  # an item's [stratum, contrast win]; None: no foreign Y'


def balanced_difference_ci(
    reference: Sequence[StratumWin], model: Sequence[StratumWin], seed: int = 0, n_resamples: int = 2_000
) -> tuple[float, float, float]:
    """(model − reference balanced accuracy, CI low, CI high), resampling items jointly (paired).

    A resample in which a stratum of either run is empty is skipped; NaN when the point estimate is
    undefined or fewer than half the resamples are usable.
    """
    diff = balanced_accuracy(model) - balanced_accuracy(reference)
    if math.isnan(diff) or len(reference) < 2:
        return diff, math.nan, math.nan
    codes = {s: k for k, s in enumerate(STRATA)}

    def arrays(values: Sequence[StratumWin]) -> tuple[np.ndarray, np.ndarray]:
        stratum = np.array([codes.get(v[0], -1) if v else -1 for v in values])
        won = np.array([float(v[1]) if v else 0.0 for v in values])
        return stratum, won

    ref_s, ref_w = arrays(reference)
    mod_s, mod_w = arrays(model)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(reference), size=(n_resamples, len(reference)))

    def balanced_rows(stratum: np.ndarray, won: np.ndarray) -> np.ndarray:
        accs = []
        for code in range(len(STRATA)):
            mask = stratum[idx] == code
            n = mask.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                accs.append(np.where(n > 0, (won[idx] * mask).sum(axis=1) / n, np.nan))
        return np.mean(accs, axis=0)

    diffs = balanced_rows(mod_s, mod_w) - balanced_rows(ref_s, ref_w)
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size < n_resamples / 2:
        return diff, math.nan, math.nan
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return diff, float(lo), float(hi)


def stratum_accuracy(values: Sequence[StratumWin], stratum: str) -> float:
    wins = [v[1] for v in values if v and v[0] == stratum]
    return sum(wins) / len(wins) if wins else math.nan


def score_row(
    model: str, group: str, reference: Sequence[StratumWin], candidate: Sequence[StratumWin], seed: int = 0
) -> dict:
    """The primary score of reference and model on the same items, and its change with a 95 % CI."""
    diff, lo, hi = balanced_difference_ci(reference, candidate, seed=seed)
    row = {
        "model": model,
        "group": group,
        "score": PRIMARY_METRIC,
        "n": len(reference),
        "n_defined": sum(1 for r, c in zip(reference, candidate, strict=True) if r and c),
        "reference": balanced_accuracy(reference),
        "model_value": balanced_accuracy(candidate),
        "change": diff,
        "ci_low": lo,
        "ci_high": hi,
    }
    for stratum in STRATA:
        row[f"reference_s_{stratum}"] = stratum_accuracy(reference, stratum)
        row[f"model_s_{stratum}"] = stratum_accuracy(candidate, stratum)
    return row


SCORE_HEADER = (
    "| run | group | n | primary ref → model | Δ primary [95% CI] | contrast acc S↑ ref → model "
    "| contrast acc S↓ ref → model |"
)
SCORE_RULE = "|---|---|---|---|---|---|---|"


def _f(x: float, spec: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def md_cell(text: object) -> str:
    """Text from a results file (a label, a group) in a Markdown table cell or heading: on one line,
    `|` escaped so it cannot split the row, and HTML inert (viewers pass raw HTML through)."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def md_code(text: object) -> str:
    """Text in a code span inside a table: on one line, `|` escaped; backticks in it get a longer fence."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def score_table(rows: Sequence[dict]) -> list[str]:
    """Markdown lines of the primary-score table (empty when no run has the scores)."""
    lines = []
    for r in rows:
        if math.isnan(r["reference"]) and math.isnan(r["model_value"]):
            continue
        lines.append(
            f"| {md_cell(r['model'])} | {md_cell(r['group'])} | {r['n']} | {_f(r['reference'])} → {_f(r['model_value'])} "
            f"| {_f(r['change'], '+.3f')} [{_f(r['ci_low'], '+.3f')}, {_f(r['ci_high'], '+.3f')}] "
            f"| {_f(r['reference_s_up'])} → {_f(r['model_s_up'])} | {_f(r['reference_s_down'])} → {_f(r['model_s_down'])} |"
        )
    return [SCORE_HEADER, SCORE_RULE, *lines] if lines else []
