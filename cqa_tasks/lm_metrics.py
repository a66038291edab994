"""Registration of the Calibrated Surprise metric names in lm-eval's registry.

The values come from the task's `process_results`; registering the names (with their `mean`
aggregation and direction) is what lets lm-eval use them without falling back to `evaluate.load`
from the Hub, and what lm-eval's metric entry points (PR #4014) will point at.
Registration is idempotent: lm-eval may import this module under two names.
"""

from __future__ import annotations

import lm_eval.api.metrics  # noqa: F401  (registers the built-in `mean` aggregation first)
from lm_eval.api.registry import register_aggregation, register_metric

from cqa_tasks.metric import AGGREGATED_METRICS, ITEM_METRIC


def _register(name: str, higher_is_better: bool, aggregation: str):
    def fn(items):
        return items

    fn.__name__ = name
    try:
        return register_metric(metric=name, higher_is_better=higher_is_better, aggregation=aggregation)(fn)
    except ValueError:  # already registered by an earlier import of this module
        return fn


def count_pairs(items: list) -> int:
    """Aggregation of the per-item record: the number of pairs scored."""
    return len(items)


try:
    register_aggregation("cqa_count")(count_pairs)
except ValueError:
    pass

METRIC_FUNCTIONS = {name: _register(name, hib, "mean") for name, hib in AGGREGATED_METRICS.items()}
METRIC_FUNCTIONS[ITEM_METRIC] = _register(ITEM_METRIC, True, "cqa_count")
for _name in ("match_acc", "match_margin"):
    METRIC_FUNCTIONS[_name] = _register(_name, True, "mean")

pair_acc = METRIC_FUNCTIONS["pair_acc"]
delta_i = METRIC_FUNCTIONS["delta_i"]
