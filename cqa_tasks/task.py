"""lm-eval adapter: the CQA-Bench tasks as a ConfigurableTask subclass.

Each item yields six `loglikelihood` requests (see prompts.pair_requests: both versions with and
without Y, and both under a foreign item's Y'); `process_results` turns their log-probs into the
metrics of cqa_tasks.metric (defined in docs/metric.md). The class also loads and validates the
data itself, so bad data stops the run with a file:line:field message before any scoring, and the
file's sha256 lands in the task's metadata (hence in every results file).
"""

from __future__ import annotations

import datasets
from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask
from pyarrow import ArrowException

import cqa_tasks.lm_metrics  # noqa: F401  (registers the metric names)
from cqa_tasks import data, prompts
from cqa_tasks.checks import InputError, Issue
from cqa_tasks.metric import VersionScore, match_metrics, passage_bytes, score_item

_FILTERS = ("group", "lang", "dimension")


class DataError(InputError):
    """What lm-eval prints when a task's data cannot be used: one line naming the file (a ValueError)."""


class CalibratedSurpriseTask(ConfigurableTask):
    """Pairs of (original, degraded twin) scored with and without their constraints."""

    def __init__(self, config: dict | None = None):
        # lm-eval passes the whole YAML, including its own `class` key, which TaskConfig rejects.
        super().__init__(config={k: v for k, v in (config or {}).items() if k != "class"})

    # ---------------------------------------------------------------- data
    def download(self, dataset_kwargs=None, **kwargs) -> None:
        options = dict(self.config.dataset_kwargs or {})
        metadata = dict(self.config.metadata or {})
        # --metadata '{"data": FILE}' replaces the shipped file for every task: a user's own data, or
        # an earlier benchmark version (cqa_bench_v1.jsonl), split into the same groups and leaves.
        source = metadata.get("data") or options.get("data")
        if not source:
            raise ValueError(
                f"{self.config.task}: no data file given. Pass it as "
                "--metadata '{\"data\": \"/path/to/items.jsonl\"}' (schema: `cqa bench validate --help`)."
            )
        # Y' is drawn from the whole file (the same pairing as cqa_match), then the leaf is selected.
        wanted = {k: options[k] for k in _FILTERS if options.get(k)}
        records = [
            r for r in prompts.with_foreign_constraints(data.load_records(source))
            if all(r[k] == v for k, v in wanted.items())
        ]
        if not records:
            raise ValueError(f"{self.config.task}: no items in {source} match {wanted}")
        path = data.resolve(source)
        self._data_path = path
        self.config.metadata = metadata | {
            "data_file": path.name,
            "data_sha256": data.sha256_of(path),
            "bench_version": ",".join(sorted({r["version"] for r in records})),
        }
        try:
            self.dataset = datasets.DatasetDict({"test": self.prepare_docs(records)})
        except (ArrowException, UnicodeError, OverflowError, TypeError, ValueError) as e:
            # the validator refuses what it knows pyarrow cannot store; this names the file for the rest
            raise DataError([Issue(str(path), f"the records cannot be stored as a dataset ({type(e).__name__}: {e})")]) from None

    def prepare_docs(self, records: list[dict]) -> datasets.Dataset:
        return datasets.Dataset.from_list(records)

    def build_all_requests(self, *, limit: int | None = None, **kwargs) -> None:
        # lm-eval turns --limit 0 into 0 items and --limit -1 into "all but the last n": both end in a
        # traceback far from the cause. Refused here, before any request is built or scored.
        if limit is not None and limit < 1:
            where = str(getattr(self, "_data_path", self.config.task))
            raise DataError([Issue(where, f"--limit leaves {limit} items for task {self.config.task}; "
                                          "give a positive number of items, or a fraction in (0, 1)")])
        super().build_all_requests(limit=limit, **kwargs)

    # ---------------------------------------------------------------- prompts
    def doc_to_text(self, doc, doc_to_text=None) -> str:
        return prompts.conditional_context(doc["constraints"], doc["lang"])

    def doc_to_target(self, doc, doc_to_target=None) -> str:
        return prompts.continuation(doc["original"])

    def construct_requests(self, doc: dict, ctx: str, **kwargs) -> list[Instance]:
        # Chat templates would change what is scored; this metric reads raw text.
        kwargs.pop("apply_chat_template", None)
        kwargs.pop("chat_template", None)
        return [
            Instance(request_type="loglikelihood", doc=doc, arguments=args, idx=i, **kwargs)
            for i, args in enumerate(self.requests_for(doc))
        ]

    def requests_for(self, doc: dict) -> list[tuple[str, str]]:
        return prompts.pair_requests(doc)

    # ---------------------------------------------------------------- metrics
    def process_results(self, doc: dict, results: list) -> dict:
        return score_item(doc, [ll for ll, _ in results])


class ConstraintMatchTask(CalibratedSurpriseTask):
    """Sanity control `cqa_match`: the original under its own Y versus a foreign item's Y.

    The foreign Y is the one the benchmark tasks use for their foreign-constraint control
    (prompts.with_foreign_constraints), so these requests are shared with theirs.
    """

    def prepare_docs(self, records: list[dict]) -> datasets.Dataset:
        # items alone in their (group, lang) block have no foreign item to borrow from
        return datasets.Dataset.from_list([r for r in records if r.get("foreign_id")])

    def requests_for(self, doc: dict) -> list[tuple[str, str]]:
        lang, x = doc["lang"], prompts.continuation(doc["original"])
        return [
            (prompts.conditional_context(doc["constraints"], lang), x),
            (prompts.unconditional_context(lang), x),
            (prompts.conditional_context(doc["foreign_constraints"], lang), x),
        ]

    def process_results(self, doc: dict, results: list) -> dict:
        (ll_own, _), (ll_u, _), (ll_foreign, _) = results
        own = VersionScore(ll_own, ll_u, passage_bytes(doc["original"]))
        return match_metrics(own, ll_foreign)
