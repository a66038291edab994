"""Write a `simple_evaluate` result to disk the way `lm_eval --output_path DIR --log_samples` does:
DIR/results_<date>.json and one DIR/samples_<task>_<date>.jsonl per task (tests only)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lm_eval.api.model import LM
from lm_eval.utils import handle_non_serializable


class HashLM(LM):
    """Log-likelihoods that vary per request but are fixed by its text (a seed shifts them): outcomes,
    surprise strata and foreign scores then differ from item to item and leaf to leaf."""

    def __init__(self, seed: str = ""):
        super().__init__()
        self.seed = seed

    def loglikelihood(self, requests, disable_tqdm=False):
        out = []
        for req in requests:
            digest = hashlib.sha256("\x00".join((self.seed, *req.args)).encode()).digest()
            out.append((-10.0 - 50.0 * int.from_bytes(digest[:4], "big") / 2**32, False))
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        raise NotImplementedError

    def generate_until(self, requests, disable_tqdm=False):
        raise NotImplementedError


def write_run(res: dict, out: Path, date: str = "2026-12-01T10-00-00.000000", model_args: str = "pretrained=/models/fake") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    results = {k: v for k, v in res.items() if k != "samples"}
    results.setdefault("config", {})
    results["config"] = dict(results["config"]) | {"model": "hf", "model_args": model_args}
    path = out / f"results_{date}.json"
    path.write_text(json.dumps(results, default=handle_non_serializable, ensure_ascii=False), encoding="utf-8")
    for task, rows in res.get("samples", {}).items():
        lines = [json.dumps(row, default=handle_non_serializable, ensure_ascii=False) for row in rows]
        (out / f"samples_{task}_{date}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
