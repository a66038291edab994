"""lm-eval adapter for agreement with human judgments: `cqa_human_pairs` and `cqa_human_ratings`.

    lm_eval --tasks cqa_human_pairs   --metadata '{"data": "pairs.jsonl"}' …
    lm_eval --tasks cqa_human_ratings --metadata '{"data": "ratings.jsonl", "criteria": ["coherence"]}' …

Both score each text with and without its prompt and under a foreign prompt (prompts.text_requests;
a pair's six requests are in the bench's order),
and report, per score of cqa_tasks.human_metric, how well it agrees with the human judgments. Their
metric names depend on the file's criteria, so `aggregation()` and `higher_is_better()` are built
here rather than listed in the YAML. The data are validated when the task is built, before any
request is scored; the file's name, sha256 and criteria land in the task's metadata.
"""

from __future__ import annotations

import datasets
from lm_eval.api.registry import get_aggregation

import cqa_tasks.lm_metrics  # noqa: F401  (registers the aggregations named in human_metric)
from cqa_tasks import data, human_data, human_metric, prompts
from cqa_tasks.task import CalibratedSurpriseTask


class HumanJudgmentTask(CalibratedSurpriseTask):
    """Common ground of the two tasks: data from `--metadata '{"data": …}'`, foreign prompts, metrics."""

    KIND = ""  # "pairs" | "ratings"
    TEXT = ""  # the field scored as the target text in lm-eval's log

    def download(self, dataset_kwargs=None, **kwargs) -> None:
        metadata = dict(self.config.metadata or {})
        # --metadata is shared by every task of a run: `pairs_data` / `ratings_data` let one run take both
        source = metadata.get(f"{self.KIND}_data") or metadata.get("data")
        if not source:
            raise ValueError(
                f"{self.config.task}: no data file given. Pass it as --metadata '{{\"data\": \"/path/to/{self.KIND}.jsonl\"}}' "
                f"(or \"{self.KIND}_data\" beside other tasks' files; check it with `cqa meta-eval validate {self.KIND} FILE`)."
            )
        criteria = human_data.parse_criteria(metadata.get("criteria")) if self.KIND == "ratings" else None
        records, used, path = human_data.load(source, self.KIND, criteria)
        self.criteria = used
        # Y' is paired over the whole file, before --limit takes the first items
        records = prompts.with_foreign_prompts(records)
        self.config.metadata = metadata | {
            "human_kind": self.KIND,
            "data": str(source),
            "data_file": path.name,
            "data_sha256": data.sha256_of(path),
            "n_records": len(records),
            **({"criteria": used} if self.KIND == "ratings" else {}),
        }
        self.dataset = datasets.DatasetDict({"test": datasets.Dataset.from_list(records)})

    def doc_to_text(self, doc, doc_to_text=None) -> str:
        return prompts.prompt_context(doc["prompt"], doc["lang"])

    def doc_to_target(self, doc, doc_to_target=None) -> str:
        return prompts.continuation(doc[self.TEXT])

    def metric_names(self) -> list[str]:
        raise NotImplementedError

    def aggregation(self) -> dict:
        # the registered aggregations (cqa_tasks.lm_metrics), one per statistic, for names made from the criteria
        named = {name: get_aggregation(human_metric.AGGREGATION_OF_STAT[human_metric.stat_of(name)])
                 for name in self.metric_names()}  # fmt: skip
        return dict(super().aggregation()) | named

    def higher_is_better(self) -> dict:
        return dict(super().higher_is_better()) | dict.fromkeys(self.metric_names(), True)


class HumanPairsTask(HumanJudgmentTask):
    """`cqa_human_pairs`: which text of a pair each score prefers, against the human's choice."""

    KIND, TEXT = "pairs", "chosen"

    def requests_for(self, doc: dict) -> list[tuple[str, str]]:
        return prompts.human_pair_requests(doc)

    def process_results(self, doc: dict, results: list) -> dict:
        return human_metric.pair_results(doc, [ll for ll, _ in results])

    def metric_names(self) -> list[str]:
        return human_metric.pair_metric_names()


class HumanRatingsTask(HumanJudgmentTask):
    """`cqa_human_ratings`: each score's rank correlation with each human criterion, over all texts."""

    KIND, TEXT = "ratings", "text"

    def requests_for(self, doc: dict) -> list[tuple[str, str]]:
        return prompts.text_requests(doc["prompt"], doc.get("foreign_prompt"), doc["lang"], doc["text"])

    def process_results(self, doc: dict, results: list) -> dict:
        return human_metric.rating_results(doc, [ll for ll, _ in results], self.criteria)

    def metric_names(self) -> list[str]:
        return human_metric.rating_metric_names(self.criteria)
