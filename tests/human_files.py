"""Synthetic human-judged files for the tests (written here; no third-party text), and a fake LM
whose log-likelihoods the tests choose per text, so accuracies and τ can be worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

from lm_eval.api.model import LM

from cqa_tasks import prompts

# Four pairs. Per text: (ll_c = log p(x | Y), ll_u = log p(x), ll_c' = log p(x | Y')), in nats.
# Pair by pair, which text each score prefers (1 chosen, 0 rejected, 0.5 tie):
#            I = ll_c − ll_u    contrast = ll_c − ll_c'   ll_c    ll_u    length
#   p1       4 vs 1 -> 1         3 vs 0.5 -> 1            1       0       1
#   p2       2 vs 3 -> 0         1 vs 1   -> 0.5          0       0       0.5
#   p3       1 vs −1 -> 1        0.5 vs 1 -> 0            1       0.5     0
#   p4       3 vs 1 -> 1         1 vs 0   -> 1            0       0       1
PAIRS = [
    {"id": "p1", "prompt": "A letter to a lost friend.", "chosen": "Dear Ana, the river still runs past your door.",
     "rejected": "Dear Ana, hello."},
    {"id": "p2", "prompt": "The last day of summer.", "chosen": "Leaves fell slowly.", "rejected": "Heat left the town."},
    {"id": "p3", "prompt": "A robot learns to paint.", "chosen": "It chose blue.",
     "rejected": "It mixed every colour it had until the canvas went grey."},
    {"id": "p4", "prompt": "A map with no north.", "chosen": "The cartographer drew the sea first, then waited.",
     "rejected": "The map was strange."},
]  # fmt: skip
PAIR_LL = {
    "p1": ((-10.0, -14.0, -13.0), (-12.0, -13.0, -12.5)),
    "p2": ((-20.0, -22.0, -21.0), (-18.0, -21.0, -19.0)),
    "p3": ((-9.0, -10.0, -9.5), (-11.0, -10.0, -12.0)),
    "p4": ((-30.0, -33.0, -31.0), (-15.0, -16.0, -15.0)),
}
PAIR_ACC = {"i": 0.75, "contrast": 0.625, "ll_c": 0.5, "ll_u": 0.125, "length": 0.625}
PAIR_WINS = {"i": [1, 0, 1, 1], "contrast": [1, 0.5, 0, 1], "ll_c": [1, 0, 1, 0], "ll_u": [0, 0, 0.5, 0],
             "length": [1, 0.5, 0, 1]}  # fmt: skip

# Four rated texts, two criteria. I in nats [3, 1, 1, 2] against coherence [2, 1, 2, 3]:
# pairs (0,1) (1,3) (2,3) concordant, (0,3) discordant, (1,2) tied in I, (0,2) tied in coherence, so
# τ-b = (3 − 1) / sqrt((6 − 1)(6 − 1)) = 0.4; average ranks [4, 1.5, 1.5, 3] and [2.5, 1, 2.5, 4] give ρ = 0.5.
RATINGS = [
    {"id": "r1", "prompt": "A door that opens onto the sea.", "text": "She opened it and the tide walked in.",
     "human": {"coherence": 2, "surprise": 4}},
    {"id": "r2", "prompt": "A door that opens onto the sea.", "text": "The door was a door.",
     "human": {"coherence": 1, "surprise": 1}},
    {"id": "r3", "prompt": "A clock that runs backwards.", "text": "Noon came before morning, and nobody minded.",
     "human": {"coherence": 2, "surprise": 3.5}, "meta": {"kept": "out"}},
    {"id": "r4", "prompt": "A clock that runs backwards.", "text": "Grandfather wound it the wrong way each night.",
     "human": {"coherence": 3, "surprise": 2}},
]  # fmt: skip
RATING_LL = {"r1": (-20.0, -23.0, -22.0), "r2": (-9.0, -10.0, -9.5), "r3": (-15.0, -16.0, -17.0), "r4": (-18.0, -20.0, -18.0)}
RATING_TAU_I_COHERENCE = 0.4
RATING_RHO_I_COHERENCE = 0.5


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def pair_table(records: list[dict] = PAIRS, lls: dict = PAIR_LL) -> dict[tuple[str, str], float]:
    """(context, continuation) -> log-likelihood for every request the pairs task makes."""
    table = {}
    for doc in prompts.with_foreign_prompts([r | {"lang": "en"} for r in records]):
        for text, (ll_c, ll_u, ll_f) in zip((doc["chosen"], doc["rejected"]), lls[doc["id"]], strict=True):
            table |= _text_table(doc, text, ll_c, ll_u, ll_f)
    return table


def rating_table(records: list[dict] = RATINGS, lls: dict = RATING_LL) -> dict[tuple[str, str], float]:
    table = {}
    for doc in prompts.with_foreign_prompts([r | {"lang": "en"} for r in records]):
        table |= _text_table(doc, doc["text"], *lls[doc["id"]])
    return table


def _text_table(doc: dict, text: str, ll_c: float, ll_u: float, ll_f: float) -> dict:
    x = prompts.continuation(text)
    return {
        (prompts.prompt_context(doc["prompt"], "en"), x): ll_c,
        (prompts.unconditional_context("en"), x): ll_u,
        (prompts.prompt_context(doc["foreign_prompt"], "en"), x): ll_f,
    }


class KnownLM(LM):
    """Log-likelihoods looked up in a table of (context, continuation) -> nats, optionally shifted
    per text (`scale` multiplies every value, a second "reader" with other numbers)."""

    def __init__(self, table: dict[tuple[str, str], float], scale: float = 1.0):
        super().__init__()
        self.table, self.scale = table, scale

    def loglikelihood(self, requests, disable_tqdm=False):
        return [(self.table[tuple(req.args)] * self.scale, False) for req in requests]

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        raise NotImplementedError

    def generate_until(self, requests, disable_tqdm=False):
        raise NotImplementedError


def evaluate(task: str, data: Path, lm: LM, criteria: list[str] | None = None, **kwargs) -> dict:
    """simple_evaluate on one human task with the worktree's task configs and samples kept."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    metadata = {"data": str(data)} | ({"criteria": criteria} if criteria else {})
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata=metadata)
    return simple_evaluate(model=lm, tasks=[task], task_manager=tm, bootstrap_iters=0, log_samples=True, **kwargs)
