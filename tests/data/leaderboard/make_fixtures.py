"""Writes the synthetic lm-eval output dirs used by tests/test_leaderboard*.py (checked in; rerun to refresh).

    python tests/data/leaderboard/make_fixtures.py

Layout (two "machines", as if copied together from different places):
  runs_a/models__alpha/     alpha, latest run, bench v1, dict model_args, samples for every leaf
  runs_a/models__beta/      beta, v1, model_args as an lm-eval string (bf16, add_bos_token), no samples
  runs_a/evil/              a model whose name is `org/<script>alert(1)</script>`, v1
  runs_a/broken/            a truncated results file (must be skipped with a warning)
  runs_b/zz_alpha_old/      an older run of alpha (same identity spelled differently): must lose
  runs_b/gamma/             third-party run: stderrs "N/A", samples with one truncated file
  runs_b/v2_alpha/          alpha on bench v2 (other data hash): a separate table
  runs_b/v2_alpha_lora/     alpha + LoRA adapter on v2: another identity

Per-item values are deterministic; alpha's literary items are spelled out so tests can check
pooled means and CIs by hand.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from cqa_tasks.metric import AGGREGATED_METRICS

HERE = Path(__file__).parent
LANGS = ("en", "zh")
DIMS = ("ethos", "mythos", "lexis", "dianoia")
METRICS = tuple(AGGREGATED_METRICS)  # one source of truth: the metric module
V1 = ("1.0", "a1" * 32, "cqa_bench_v1.jsonl")
V2 = ("2.0", "b2" * 32, "cqa_bench_v2.jsonl")

# alpha's literary items, leaf by leaf: (pair_acc per item, delta_i per item or None = formula).
ALPHA_LITERARY = {
    ("en", "ethos"): ([1, 1, 0, 1], [2.0, 1.0, -1.0, 2.0]),
    ("en", "mythos"): ([1, 1, 1, 1], None),
    ("en", "lexis"): ([1, 0, 1, 1], None),
    ("en", "dianoia"): ([1, 1, 1, 0], None),
    ("zh", "ethos"): ([1, 0, 1, 1], [1.5, -0.5, 1.0, 2.0]),
    ("zh", "mythos"): ([1, 1, 1, 1], None),
    ("zh", "lexis"): ([1, 1, 0, 1], None),
    ("zh", "dianoia"): ([1, 1, 0, 1], None),
}  # 26 of 32 won


def leaves():
    for group in ("creative", "factual"):
        for lang in LANGS:
            for dim in DIMS:
                yield group, lang, dim


def item_values(k: int, won: float, seed: int, delta: float | None = None) -> dict[str, float]:
    """All metrics of one item; the sign of delta_i agrees with the pair's outcome."""
    if delta is None:
        delta = 0.5 + ((k * 7 + seed) % 5) * 0.5 if won else -(0.5 + ((k * 3 + seed) % 4) * 0.5)
    i_orig = 20.0 + (k + seed) % 7
    surprise = 1.3 + ((k + seed) % 5) * 0.05
    return {
        "pair_acc": float(won),
        "delta_i": delta,
        "delta_i_bpb": delta / 500,
        "i_orig": i_orig,
        "i_orig_bpb": i_orig / 500,
        "surprise_orig_bpb": surprise,
        "residual_orig_bpb": surprise - i_orig / 500,
        "acc_cond_only": float((k * 5 + seed) % 3 != 0),
        "acc_uncond_only": float((k * 3 + seed) % (2 + seed % 3) == 0),
        "acc_overlap": 0.5 if k % 4 == 3 else float(k % 2 == 0),  # no model: the same for all; ties give 0.5
    }


def model_items(wins: dict[str, int], seed: int, explicit: dict | None = None) -> dict[str, list[dict]]:
    """task -> per-item metric dicts; `wins[group]` of the group's 32 pairs are won."""
    out: dict[str, list[dict]] = {}
    for idx, (group, lang, dim) in enumerate(leaves()):
        task = f"cqa_{group}_{lang}_{dim}"
        items = []
        for j in range(4):
            k = (idx % 8) * 4 + j  # slot within the group, 0..31
            if group == "creative" and explicit is not None:
                acc, deltas = explicit[(lang, dim)]
                items.append(item_values(k, acc[j], seed, None if deltas is None else deltas[j]))
            else:
                # 13 is coprime with 32: exactly wins[group] slots are won.
                won = (k * 13 + seed) % 32 < wins[group]
                items.append(item_values(k, won, seed))
        out[task] = items
    return out


def mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs)


def stderr(xs: list[float]) -> float:
    m = mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1)) / math.sqrt(len(xs))


def pooled_sample_stderr(stderrs: list[float], sizes: list[int]) -> float:
    """lm-eval 0.4.13's group stderr (no between-subtask term), to make group rows look real."""
    var = sum((n - 1) * s**2 * n for n, s in zip(sizes, stderrs, strict=True)) / (sum(sizes) - len(sizes))
    return math.sqrt(var / sum(sizes))


def row(name: str, alias: str, items: list[dict], na_stderr: bool) -> dict:
    r: dict = {"name": name, "alias": alias, "sample_len": len(items)}
    for m in METRICS:
        xs = [it[m] for it in items]
        r[f"{m},none"] = mean(xs)
        r[f"{m}_stderr,none"] = "N/A" if na_stderr else stderr(xs)
    r["cqa_item,none"] = len(items)
    r["cqa_item_stderr,none"] = "N/A"
    return r


def group_row(name: str, tasks: list[str], items: dict[str, list[dict]], na_stderr: bool) -> dict:
    everything = [it for t in tasks for it in items[t]]
    r: dict = {"name": name, "alias": name, "sample_len": len(everything)}
    for m in METRICS:
        r[f"{m},none"] = mean([it[m] for it in everything])
        if na_stderr:
            r[f"{m}_stderr,none"] = "N/A"
        else:
            r[f"{m}_stderr,none"] = pooled_sample_stderr(
                [stderr([it[m] for it in items[t]]) for t in tasks], [len(items[t]) for t in tasks]
            )
    return r


def results_doc(
    model_args,
    items: dict[str, list[dict]],
    bench: tuple[str, str, str],
    date: datetime,
    params: int,
    na_stderr: bool = False,
    lm_eval_version: str = "0.4.13",
    extra_results: dict | None = None,
) -> dict:
    version, sha, data_file = bench
    results = {t: row(t, t.rsplit("_", 1)[-1], its, na_stderr) for t, its in items.items()}
    groups = {}
    for g in ("creative", "factual"):
        for lang in LANGS:
            name = f"cqa_{g}_{lang}"
            groups[name] = group_row(name, [f"{name}_{d}" for d in DIMS], items, na_stderr)
        name = f"cqa_{g}"
        groups[name] = group_row(
            name, [f"{name}_{lang}_{d}" for lang in LANGS for d in DIMS], items, na_stderr
        )
    groups["cqa"] = group_row("cqa", list(items), items, na_stderr)
    results.update(groups)
    results.update(extra_results or {})
    configs = {
        t: {
            "task": t,
            "metadata": {
                "version": 1.0,
                "data_file": data_file,
                "data_sha256": sha,
                "bench_version": version,
            },
        }
        for t in items
    }
    return {
        "results": results,
        "groups": groups,
        "group_subtasks": {},
        "configs": configs,
        "versions": {t: 1.0 for t in items},
        "n-shot": {t: 0 for t in items},
        "n-samples": {t: {"original": 24, "effective": len(its)} for t, its in items.items()},
        "config": {
            "model": "hf",
            "model_args": model_args,
            "model_num_parameters": params,
            "model_dtype": "torch.float32",
            "batch_size": "8",
            "device": "cpu",
            "limit": None,
            "bootstrap_iters": 100000,
        },
        "git_hash": None,
        "date": date.timestamp(),
        "lm_eval_version": lm_eval_version,
        "model_name": model_args["pretrained"] if isinstance(model_args, dict) else "unknown",
    }


def write_run(dirname: str, doc: dict, items: dict[str, list[dict]] | None, stamp: str) -> Path:
    d = HERE / dirname
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"results_{stamp}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for task, its in (items or {}).items():
        lines = []
        for j, it in enumerate(its):
            _, group, lang, dim = task.split("_")
            rec = {
                "doc_id": j,
                "doc": {
                    "id": f"{group[:3]}-{lang}-{dim}-{j:04d}",
                    "group": group,
                    "lang": lang,
                    "dimension": dim,
                },
                "filter": "none",
                **it,
                "cqa_item": {"id": f"{lang}-{dim}-{j}", "delta_i": it["delta_i"]},
            }
            lines.append(json.dumps(rec, ensure_ascii=False))
        (d / f"samples_{task}_{stamp}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def main() -> None:
    alpha = model_items({"factual": 16}, seed=1, explicit=ALPHA_LITERARY)
    custom = {"cqa_custom": {"name": "cqa_custom", "pair_acc,none": 0.0, "cqa_item,none": 3}}
    write_run(
        "runs_a/models__alpha",
        results_doc(
            {"pretrained": "/models/alpha", "dtype": "float32"},
            alpha,
            V1,
            utc(2026, 2, 1, 10),
            134515008,
            extra_results=custom,
        ),  # fmt: skip
        alpha,
        "2026-02-01T10-00-00.000000",
    )

    beta = model_items({"creative": 24, "factual": 30}, seed=2)
    write_run(
        "runs_a/models__beta",
        results_doc(
            "pretrained=org/Beta-1B,dtype=bf16,add_bos_token=true,batch_size=16",
            beta,
            V1,
            utc(2026, 2, 2, 9, 30),
            1_234_000_000,
        ),  # fmt: skip
        None,
        "2026-02-02T09-30-00.000000",
    )

    evil = model_items({"creative": 14, "factual": 24}, seed=3)
    write_run(
        "runs_a/evil",
        results_doc(
            {"pretrained": "org/<script>alert(1)</script>", "dtype": "float32"},
            evil,
            V1,
            utc(2026, 2, 3, 8),
            7_000_000,
            lm_eval_version='0.4.13"><img src=x onerror=alert(2)>',
        ),  # fmt: skip
        None,
        "2026-02-03T08-00-00.000000",
    )

    broken = write_run(
        "runs_a/broken",
        results_doc(
            {"pretrained": "/models/broken"},
            model_items({"creative": 5, "factual": 5}, 4),
            V1,
            utc(2026, 2, 4),
            1,
        ),  # fmt: skip
        None,
        "2026-02-04T00-00-00.000000",
    )
    broken.write_text(broken.read_text(encoding="utf-8")[:400], encoding="utf-8")  # truncated mid-object

    # The same identity as alpha: string args, trailing slash, fp32 alias, operational keys.
    old = model_items({"creative": 8, "factual": 8}, seed=5)
    write_run(
        "runs_b/zz_alpha_old",
        results_doc(
            "pretrained=/models/alpha/,dtype=fp32,device=cuda:0,batch_size=auto",
            old,
            V1,
            utc(2026, 1, 15, 10),
            134515008,
        ),  # fmt: skip
        None,
        "2026-01-15T10-00-00.000000",
    )

    gamma = model_items({"creative": 8, "factual": 20}, seed=6)
    write_run(
        "runs_b/gamma",
        results_doc(
            {"pretrained": "/home/someone/ckpt/gamma-350m", "dtype": "float32"},
            gamma,
            V1,
            utc(2026, 2, 5, 12),
            350_000_000,
            na_stderr=True,
        ),  # fmt: skip
        gamma,
        "2026-02-05T12-00-00.000000",
    )
    truncated = HERE / "runs_b/gamma/samples_cqa_factual_zh_lexis_2026-02-05T12-00-00.000000.jsonl"
    text = truncated.read_text(encoding="utf-8")
    truncated.write_text(text[: len(text) - 60], encoding="utf-8")  # last line cut

    a2 = model_items({"creative": 20, "factual": 16}, seed=7)
    write_run(
        "runs_b/v2_alpha",
        results_doc({"pretrained": "/models/alpha", "dtype": "float32"}, a2, V2, utc(2026, 3, 1), 134515008),
        None,
        "2026-03-01T00-00-00.000000",
    )
    lora = model_items({"creative": 28, "factual": 16}, seed=8)
    write_run(
        "runs_b/v2_alpha_lora",
        results_doc(
            {"pretrained": "/models/alpha", "peft": "/adapters/cqa-lora/", "dtype": "float32"},
            lora,
            V2,
            utc(2026, 3, 2),
            134515008 + 921_600,
        ),  # fmt: skip
        None,
        "2026-03-02T00-00-00.000000",
    )


if __name__ == "__main__":
    main()
