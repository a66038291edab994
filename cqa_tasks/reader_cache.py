"""Log-likelihoods of (context, continuation) requests under a local reader, cached on disk by request.

`cqa bench audit` scores every item with every reader; a second audit, or an audit of a revised file
whose items mostly did not change, must not score anything twice. The cache is one JSON file per
reader identity (model config, weight sizes, dtype) under `$CQA_HOME/audit/`, keyed by the sha256
of each request's text, and written atomically after every batch, so an interrupted audit resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from cqa_tasks.checks import MAX_RESULTS_BYTES, InputError, Issue, parse_json, raise_if, read_text, usage

Request = tuple[str, str]


def request_key(request: Request) -> str:
    context, continuation = request
    return hashlib.sha256(f"{context}\x00{continuation}".encode()).hexdigest()[:32]


def reader_identity(model_dir: Path, dtype: str) -> str:
    """What makes two readers the same: the model's config, its weight files' sizes, and the dtype."""
    h = hashlib.sha256((model_dir / "config.json").read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")):
        h.update(f"{weights.name}:{weights.stat().st_size}".encode())
    h.update(dtype.encode())
    return h.hexdigest()[:16]


def reader_issues(spec: str, option: str) -> list[Issue]:
    """Why `spec` is neither an embedded reader's name nor a local Hugging Face model directory
    (checked before anything loads or converts; a Hub id is not looked up: these commands run offline)."""
    from cqa_tasks import models

    if spec in models.MODELS:
        return []
    path = Path(spec).expanduser()
    names = ", ".join(models.MODELS)
    if not spec.strip():
        return [usage(option, f"give a model directory or an embedded reader ({names})")]
    if not path.exists():
        return [Issue(spec, f"model directory not found (nor an embedded reader: {names})", field=option)]
    if not path.is_dir():
        return [Issue(spec, "is a file, not a model directory", field=option)]
    if not (path / "config.json").is_file():
        return [Issue(spec, "no config.json: not a Hugging Face model directory", field=option)]
    return []


def resolve_reader(spec: str, option: str = "--reader") -> Path:
    """An embedded reader's name (prepared once, see `cqa models`) or a local HF model directory."""
    from cqa_tasks import models

    raise_if(reader_issues(spec, option))
    return models.prepare(spec) if spec in models.MODELS else Path(spec).expanduser().resolve()


def import_run(run_dir: Path, model_dir: Path, cache_dir: Path, dtype: str = "float32") -> int:
    """Put the log-likelihoods an lm-eval run of this reader already computed into its cache.

    Reads every `samples_cqa_*.jsonl` below `run_dir` (written with --log_samples); the requests
    are rebuilt from each row's doc (prompts.pair_requests), the values taken from its per-item
    record. The run must have used the same reader and dtype. Returns the number of requests added.
    """
    from cqa_tasks import prompts

    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{reader_identity(model_dir, dtype)}.json"
    cache: dict[str, float] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    before = len(cache)
    fields = ("ll_c_orig", "ll_u_orig", "ll_c_degr", "ll_u_degr", "ll_cf_orig", "ll_cf_degr")
    for samples in sorted(Path(run_dir).rglob("samples_cqa_*.jsonl")):
        for number, line in enumerate(read_text(samples, max_bytes=MAX_RESULTS_BYTES).splitlines(), 1):
            try:
                row = parse_json(line) if line.strip() else {}
            except ValueError as e:
                raise InputError([Issue(str(samples), f"not valid JSON ({e})", line=number)]) from None
            if not isinstance(row, dict):
                continue
            record, doc = row.get("cqa_item"), row.get("doc")
            if not isinstance(record, dict) or not isinstance(doc, dict):
                continue
            try:
                requests = prompts.pair_requests(doc)
            except (KeyError, TypeError, AttributeError):  # a doc of another shape: nothing to take
                continue
            for request, name in zip(requests, fields, strict=False):
                if isinstance(record.get(name), (int, float)):
                    cache.setdefault(request_key(request), float(record[name]))
    _save(path, cache)
    return len(cache) - before


def stored_dtype(model_dir: Path) -> str:
    """The dtype a model directory's weights are stored in (config `dtype` / `torch_dtype`), else float32."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    value = config.get("dtype") or config.get("torch_dtype")
    return value if value in ("float32", "bfloat16", "float16") else "float32"


def _save(path: Path, cache: dict[str, float]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cache, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def loglikelihoods(
    model_dir: Path,
    requests: Sequence[Request],
    cache_dir: Path,
    dtype: str = "float32",
    batch_size: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> list[float]:
    """log p(continuation | context) in nats for every request, scoring only those not cached yet.

    Tokenisation reproduces lm-eval's `hf` backend (scoring.Reader) and shared prefixes are computed
    once (prefix_scoring), so the numbers are the task's own. `progress(done, total)` after each batch.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{reader_identity(model_dir, dtype)}.json"
    cache: dict[str, float] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    keys = [request_key(r) for r in requests]
    missing = sorted({k: r for k, r in zip(keys, requests, strict=True) if k not in cache}.items())
    if missing:
        from cqa_tasks.prefix_scoring import score_pairs
        from cqa_tasks.scoring import Reader

        reader = Reader(str(model_dir), dtype=dtype)
        pairs = [reader.encode_pair(*request) for _, request in missing]
        pad = reader.tokenizer.pad_token_id if reader.tokenizer.pad_token_id is not None else 0
        done = 0

        def on_batch(indices: list[int], answers: list[tuple[float, bool]]) -> None:
            nonlocal done
            for i, (ll, _) in zip(indices, answers, strict=True):
                cache[missing[i][0]] = ll
            done += len(indices)
            _save(path, cache)
            if progress is not None:
                progress(done, len(missing))

        score_pairs(reader.model, pairs, rows_per_batch=max(2, batch_size), pad_token_id=pad, on_batch=on_batch)
    return [cache[k] for k in keys]
