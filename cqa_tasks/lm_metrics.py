"""Registration of the Calibrated Surprise metric names and aggregations in lm-eval's registry.

The per-item values come from the task's `process_results`; registering the names (with their
aggregation and direction) is what lets lm-eval use them without falling back to `evaluate.load`
from the Hub, and what lm-eval's metric entry points (PR #4014) will point at. Registration is
idempotent: lm-eval may import this module under two names.

Exact group rows. lm-eval 0.4.13 computes a group's value as `sum(v * size) / sum(size)` over its
leaf tasks' values, with `size` the leaf's number of documents (api/group.py). That is exact for a
mean over all items, but not for a mean over the items of one surprise stratum, nor for the
balanced accuracy (docs/metric.md, "Group rows"). So the two aggregations below return a
`PooledValue`: a float (what lm-eval prints and writes) that also keeps the sums and counts it was
computed from, and whose arithmetic under that formula pools those sums and counts instead of
weighting by the leaf size. Any other arithmetic sees a plain float.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import lm_eval.api.metrics  # noqa: F401  (registers the built-in `mean` aggregation first)
from lm_eval.api.registry import register_aggregation, register_metric

from cqa_tasks.human_metric import AGGREGATIONS as HUMAN_AGGREGATIONS
from cqa_tasks.human_metric import HUMAN_ITEM_METRIC
from cqa_tasks.metric import (
    AGGREGATION_OF_POOLING,
    ITEM_METRIC,
    METRICS,
    STRATA,
    balanced_from_counts,
    mean_defined,
    stratum_counts,
)

log = logging.getLogger("cqa")

Parts = tuple[tuple[float, int], ...]  # (sum, count) per part: one part, or one per stratum


class PooledValue(float):
    """A task-level value that remembers its (sum, count) parts, so lm-eval's group formula pools exactly."""

    parts: Parts
    kind: str  # "defined" | "balanced"

    def __new__(cls, parts: Parts, kind: str) -> PooledValue:
        value = _finish(parts, kind)
        obj = super().__new__(cls, value)
        obj.parts, obj.kind = parts, kind
        return obj

    def __mul__(self, size):  # the leaf's document count is ignored: the parts carry their own counts
        return _Weighted(self.parts, self.kind)

    __rmul__ = __mul__

    def __reduce__(self):  # pickles (lm-eval may copy results) as the same pooled value
        return (PooledValue, (self.parts, self.kind))


class _Weighted:
    """`PooledValue * size` inside lm-eval's group formula: adds parts, then `/ sum(sizes)` finishes."""

    def __init__(self, parts: Parts, kind: str):
        self.parts, self.kind = parts, kind

    def __add__(self, other):
        if isinstance(other, _Weighted) and other.kind == self.kind:
            parts = tuple((s1 + s2, n1 + n2) for (s1, n1), (s2, n2) in zip(self.parts, other.parts, strict=True))
            return _Weighted(parts, self.kind)
        if other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    __radd__ = __add__

    def __truediv__(self, _total) -> PooledValue:
        return PooledValue(self.parts, self.kind)


def _finish(parts: Parts, kind: str) -> float:
    if kind == "balanced":
        return balanced_from_counts(dict(zip(STRATA, parts, strict=True)))
    total, n = parts[0]
    return total / n if n else math.nan


def mean_where_defined(items: Sequence) -> PooledValue:
    """Aggregation `cqa_mean_defined`: the mean over items whose value is not None (NaN if none)."""
    mean, n = mean_defined(items)
    if n == 0:
        log.warning("cqa: a stratified or foreign-Y metric has no defined item in this task; reported as NaN")
    return PooledValue(((0.0 if n == 0 else mean * n, n),), "defined")


def balanced(items: Sequence) -> PooledValue:
    """Aggregation `cqa_balanced`: the mean of the two surprise strata's accuracies (NaN if one is empty)."""
    counts = stratum_counts(items)
    empty = [s for s in STRATA if counts[s][1] == 0]
    if empty:
        log.warning("cqa: surprise stratum %s is empty in this task; the balanced accuracy is NaN", "/".join(empty))
    return PooledValue(tuple(counts[s] for s in STRATA), "balanced")


def count_pairs(items: list) -> int:
    """Aggregation of the per-item record: the number of pairs scored."""
    return len(items)


AGGREGATIONS = {
    "cqa_count": count_pairs,
    AGGREGATION_OF_POOLING["defined"]: mean_where_defined,
    AGGREGATION_OF_POOLING["balanced"]: balanced,
    # agreement with human judgments (cqa_human_pairs, cqa_human_ratings): accuracy, τ-b, ρ and their
    # bootstrap bounds, each over all items of the task
    **HUMAN_AGGREGATIONS,
}
for _name, _fn in AGGREGATIONS.items():
    try:
        register_aggregation(_name)(_fn)
    except ValueError:  # already registered by an earlier import of this module
        pass


def _register(name: str, higher_is_better: bool, aggregation: str):
    def fn(items):
        return items

    fn.__name__ = name
    try:
        return register_metric(metric=name, higher_is_better=higher_is_better, aggregation=aggregation)(fn)
    except ValueError:  # already registered by an earlier import of this module
        return fn


METRIC_FUNCTIONS = {
    name: _register(name, spec.higher_is_better, AGGREGATION_OF_POOLING[spec.pooling]) for name, spec in METRICS.items()
}
METRIC_FUNCTIONS[ITEM_METRIC] = _register(ITEM_METRIC, True, "cqa_count")
METRIC_FUNCTIONS[HUMAN_ITEM_METRIC] = _register(HUMAN_ITEM_METRIC, True, "cqa_count")
for _name in ("match_acc", "match_margin"):
    METRIC_FUNCTIONS[_name] = _register(_name, True, "mean")

pair_acc = METRIC_FUNCTIONS["pair_acc"]
delta_i = METRIC_FUNCTIONS["delta_i"]
