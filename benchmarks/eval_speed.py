"""Evaluation speed and memory of `lm_eval --tasks cqa` against the raw forward pass, in one run.

    python benchmarks/eval_speed.py                    # full benchmark, 3 repeats (hours on a laptop CPU)
    python benchmarks/eval_speed.py --limit 3          # first 3 items of each of the 16 leaf tasks
    python benchmarks/eval_speed.py --limit 3 --bf16   # also the faster path in bfloat16, with agreement

(a) `lm_eval --model hf --tasks cqa` end to end (the command a user runs: start-up included)
(b) the raw batched forward pass over exactly the token sequences (a) scored, read back from its
    samples log: right-padded, longest first, `model(input_ids, attention_mask)`, nothing else
(c) `lm_eval --model hf-prefix --tasks cqa` end to end (this package's shared-prefix path)

Each measurement runs in its own process (peak RSS is that process's), repeats are interleaved
a, b, c, a, b, c, … and medians are reported. Scored tokens = continuation tokens of all requests,
the same for every row. Prints a table, checks that (c) reproduces (a)'s per-item numbers, and saves
everything as JSON under $CQA_HOME/benchmarks/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_measured(cmd: list[str], log: Path) -> dict:
    """Wall seconds and peak RSS (GB) of one child process; raises if it fails."""
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:6])}… failed with exit code {code}; see {log}")
    return {"wall_s": wall, "peak_rss_gb": usage.ru_maxrss / 1e6}


def lm_eval_cmd(model: str, pretrained: Path, dtype: str, batch_size: int, out: Path, limit: int | None) -> list[str]:
    cmd = [
        sys.executable, "-m", "lm_eval", "run", "--model", model,
        "--model_args", f"pretrained={pretrained},dtype={dtype}",
        "--tasks", "cqa", "--batch_size", str(batch_size), "--device", "cpu",
        "--output_path", str(out), "--log_samples",
    ]
    return cmd + (["--limit", str(limit)] if limit else [])


def read_samples(out: Path) -> tuple[list[tuple[str, str]], dict[str, dict]]:
    """All (context, continuation) requests of a run, and its per-item records keyed by item id."""
    requests, items = [], {}
    for path in sorted(out.rglob("samples_*.jsonl")):
        for line in path.read_text().splitlines():
            sample = json.loads(line)
            args = sample["arguments"]
            for key in sorted(args, key=lambda k: int(k.rsplit("_", 1)[1])):
                requests.append((args[key]["arg_0"], args[key]["arg_1"]))
            record = sample.get("cqa_item")
            if isinstance(record, dict):
                items[record["id"]] = record
    return requests, items


def raw_forward_worker(pretrained: str, dtype: str, batch_size: int, requests_file: str, result_file: str) -> None:
    """(b): tokenize exactly as lm-eval does, then time only the batched forward passes.

    Like lm-eval's `hf` backend the batch is right-padded and passed without an attention mask
    (causal attention keeps padding out of every real position)."""
    import torch

    from cqa_tasks.scoring import Reader

    reader = Reader(pretrained, dtype=dtype, batch_size=batch_size)
    requests = json.loads(Path(requests_file).read_text())
    seqs = []
    for context, cont in requests:
        ctx_ids, cont_ids = reader.encode_pair(context, cont)
        seqs.append((ctx_ids + cont_ids)[-(reader.max_length + 1) :][:-1])
    seqs.sort(key=len, reverse=True)
    started = time.perf_counter()
    with torch.inference_mode():
        for k in range(0, len(seqs), batch_size):
            batch = seqs[k : k + batch_size]
            width = len(batch[0])
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            for r, s in enumerate(batch):
                ids[r, : len(s)] = torch.tensor(s)
            reader.model(input_ids=ids)
    seconds = time.perf_counter() - started
    Path(result_file).write_text(json.dumps({"forward_s": seconds, "input_tokens": sum(map(len, seqs))}))


def scored_tokens(pretrained: Path, requests: list[tuple[str, str]]) -> int:
    from transformers import AutoTokenizer

    from cqa_tasks.scoring import Reader

    class TokenizerOnly(Reader):
        def __post_init__(self) -> None:
            self.tokenizer = AutoTokenizer.from_pretrained(self.pretrained)

    reader = TokenizerOnly(str(pretrained))
    return sum(len(reader.encode_pair(c, x)[1]) for c, x in requests)


def compare_items(reference: dict[str, dict], other: dict[str, dict]) -> dict:
    """Largest log-likelihood difference, pair decisions that differ, largest ΔI difference."""
    common = sorted(set(reference) & set(other))
    keys = ("ll_c_orig", "ll_u_orig", "ll_c_degr", "ll_u_degr")
    max_ll = max((abs(reference[i][k] - other[i][k]) for i in common for k in keys), default=float("nan"))
    flips = sum((reference[i]["delta_i"] > 0) != (other[i]["delta_i"] > 0) for i in common)
    max_di = max((abs(reference[i]["delta_i"] - other[i]["delta_i"]) for i in common), default=float("nan"))
    return {
        "items": len(common),
        "max_abs_ll_diff_nats": max_ll,
        "max_abs_delta_i_diff_bits": max_di,
        "pair_decisions_differing": flips,
        "pair_decision_agreement": 1 - flips / len(common) if common else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="items per leaf task (default: the whole benchmark)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2, help="for all three paths (default 2: see docs/performance.md)")
    parser.add_argument("--bf16", action="store_true", help="also run (c) in bfloat16 once: speed and agreement with fp32")
    parser.add_argument("--model", default="smollm2", help="embedded model name (cqa models list)")
    parser.add_argument("--raw-worker", nargs=4, metavar=("PRETRAINED", "DTYPE", "REQUESTS", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.raw_worker:
        pretrained, dtype, requests_file, result_file = args.raw_worker
        raw_forward_worker(pretrained, dtype, args.batch_size, requests_file, result_file)
        return

    from cqa_tasks.models import cqa_home, prepare

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pretrained = prepare(args.model)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    rows: dict[str, list[dict]] = {"a": [], "b": [], "c": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        requests: list | None = None
        items_a: dict = {}
        items_c: dict = {}
        for rep in range(args.repeats):
            for path in ("a", "b", "c"):
                print(f"repeat {rep + 1}/{args.repeats}: ({path}) …", flush=True)
                out = tmp / f"{path}{rep}"
                if path == "b":
                    req_file, res_file = tmp / "requests.json", tmp / f"raw{rep}.json"
                    req_file.write_text(json.dumps(requests))
                    cmd = [sys.executable, __file__, "--batch-size", str(args.batch_size),
                           "--raw-worker", str(pretrained), "float32", str(req_file), str(res_file)]
                    m = run_measured(cmd, tmp / f"b{rep}.log")
                    m |= json.loads(res_file.read_text())
                else:
                    model = "hf" if path == "a" else "hf-prefix"
                    cmd = lm_eval_cmd(model, pretrained, "float32", args.batch_size, out, args.limit)
                    m = run_measured(cmd, tmp / f"{path}{rep}.log")
                    reqs, items = read_samples(out)
                    if path == "a" and requests is None:
                        requests, items_a = reqs, items
                    if path == "c" and not items_c:
                        items_c = items
                rows[path].append(m)
                print(f"  {m['wall_s']:.1f} s, peak RSS {m['peak_rss_gb']:.2f} GB", flush=True)
        bf16 = None
        if args.bf16:
            print("(c) in bfloat16 …", flush=True)
            out = tmp / "c_bf16"
            try:
                bf16 = run_measured(lm_eval_cmd("hf-prefix", pretrained, "bfloat16", args.batch_size, out, args.limit), tmp / "c_bf16.log")
                bf16["agreement_with_fp32"] = compare_items(items_c, read_samples(out)[1])
            except SystemExit as e:  # keep the fp32 measurements
                print(f"bfloat16 run failed: {e}", flush=True)

    assert requests is not None
    n_scored = scored_tokens(pretrained, requests)
    med = {p: {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], float)} for p, rs in rows.items()}
    raw_s = med["b"]["forward_s"]
    table = [
        ("(a) lm_eval --model hf, end to end", med["a"]["wall_s"], med["a"]["peak_rss_gb"]),
        ("(b) raw forward, same sequences", raw_s, med["b"]["peak_rss_gb"]),
        ("(c) lm_eval --model hf-prefix, end to end", med["c"]["wall_s"], med["c"]["peak_rss_gb"]),
    ]
    if bf16:
        table.append(("(c) hf-prefix, bfloat16 (1 run)", bf16["wall_s"], bf16["peak_rss_gb"]))
    print()
    print(f"{args.model} · {len(requests)} requests · {n_scored} scored tokens · batch {args.batch_size} · "
          f"medians of {args.repeats} · {platform.machine()} {os.cpu_count()} cores")
    print(f"{'path':44s} {'wall s':>9s} {'scored tok/s':>13s} {'peak RSS GB':>12s} {'speed vs (b)':>13s}")
    for name, seconds, rss in table:
        print(f"{name:44s} {seconds:9.1f} {n_scored / seconds:13.1f} {rss:12.2f} {raw_s / seconds:13.2f}")
    equivalence = compare_items(items_a, items_c)
    print(f"(c) vs (a) per item: max |Δ log-lik| {equivalence['max_abs_ll_diff_nats']:.2e} nats, "
          f"pair decisions differing {equivalence['pair_decisions_differing']}/{equivalence['items']}")
    if bf16:
        agree = bf16["agreement_with_fp32"]
        print(f"bfloat16 vs float32 (c): pair decisions agree on {agree['pair_decision_agreement']:.1%} of "
              f"{agree['items']} items, max |Δ ΔI| {agree['max_abs_delta_i_diff_bits']:.3f} bits")

    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": platform.platform(), "cpus": os.cpu_count(),
        "model": args.model, "limit": args.limit, "repeats": args.repeats, "batch_size": args.batch_size,
        "requests": len(requests), "scored_tokens": n_scored, "runs": rows, "medians": med,
        "ratio_a_over_b": raw_s / med["a"]["wall_s"], "ratio_c_over_b": raw_s / med["c"]["wall_s"],
        "c_vs_a": equivalence, "bf16": bf16,
    }
    out_file = cqa_home() / "benchmarks" / f"eval_speed_{stamp}.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {out_file}")


if __name__ == "__main__":
    main()
