"""Training speed of `cqa train` against the raw forward+backward floor, measured in one run.

    python benchmarks/train_speed.py                 # full BC set, one epoch, embedded SmolLM2, CPU
    python benchmarks/train_speed.py --limit 16      # a quicker look

(a) `cqa train` (Trainer + peft, one epoch of the cqa_cot recipe): seconds per epoch, training tokens/s
(b) the same LoRA model, the same padded batches, a bare loop of forward, backward and AdamW step
    (all batches of the epoch, or the first N with --raw-batches N: tokens/s is a rate)
Prints a table with the ratio (a)/(b) of tokens/s and writes it as JSON under $CQA_HOME/benchmarks/.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path


def raw_loop(recipe, base_path: Path, features: list[dict], repeats: int, max_batches: int | None = None) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cqa_train.trainer import PadCollator

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=getattr(torch, recipe.dtype))
    lora = recipe.lora
    model = get_peft_model(model, LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                             target_modules=lora.target_modules, task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.lr)
    collate = PadCollator(tokenizer.pad_token_id or tokenizer.eos_token_id)
    batches = [collate(features[i : i + recipe.batch_size]) for i in range(0, len(features), recipe.batch_size)]
    if max_batches:
        batches = batches[:max_batches]
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for batch in batches:
            loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
        times.append(time.perf_counter() - started)
    seconds = sorted(times)[len(times) // 2]
    return {"seconds": seconds, "batches": len(batches), "tokens": tokens, "tokens_per_s": tokens / seconds, "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="cqa_cot")
    parser.add_argument("--limit", type=int, default=None, help="first N examples (default: the whole set)")
    parser.add_argument("--raw-repeats", type=int, default=1, help="passes of the raw loop (median reported)")
    parser.add_argument("--raw-batches", type=int, default=None,
                        help="time the raw loop on the first N batches only (a rate; default: the whole epoch)")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from cqa_tasks.models import cqa_home
    from cqa_train import recipe as recipes
    from cqa_train.trainer import (
        load_examples,
        resolve_base_model,
        tokenize_example,
        train,
        uses_chat_template,
    )

    with tempfile.TemporaryDirectory() as tmp:
        overrides = ["epochs=1", "save_every_epoch=false", "checkpoint_every_steps=100000", f"output_dir={tmp}/run"]
        if args.limit:
            overrides.append(f"limit={args.limit}")
        recipe = recipes.load(args.recipe, overrides)
        base_path = resolve_base_model(recipe.base_model)
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        chat = uses_chat_template(tokenizer, recipe)
        features = [f for ex in load_examples(recipe)[0] if (f := tokenize_example(tokenizer, ex, chat, recipe.max_length))]

        run = train(recipe)
        events = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
        summary = next(e for e in reversed(events) if "train_runtime" in e)
        manifest = json.loads((run / "manifest.json").read_text())
        trainer_seconds = summary["train_runtime"]
        trainer_tokens = manifest["n_train_tokens"]
        raw = raw_loop(recipe, base_path, features, args.raw_repeats, args.raw_batches)

    rows = [
        ("cqa train (Trainer + peft), 1 epoch", trainer_seconds, trainer_tokens / trainer_seconds),
        (f"raw forward+backward+AdamW, {raw['batches']} batches", raw["seconds"], raw["tokens_per_s"]),
    ]
    ratio = rows[0][2] / rows[1][2]
    print(f"recipe {recipe.name} · {len(features)} examples · {trainer_tokens} tokens · batch {recipe.batch_size} · {recipe.dtype}")
    print(f"{'path':44s} {'seconds':>10s} {'tokens/s':>10s}")
    for name, seconds, tps in rows:
        print(f"{name:44s} {seconds:10.1f} {tps:10.1f}")
    print(f"{'ratio cqa train / raw (tokens/s)':44s} {'':>10s} {ratio:10.2f}")
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"peak RSS of this process: {peak_gb:.2f} GB")
    out = cqa_home() / "benchmarks" / f"train_speed_{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "recipe": recipe.name, "examples": len(features), "tokens": trainer_tokens, "dtype": recipe.dtype,
        "trainer": {"seconds_per_epoch": trainer_seconds, "tokens_per_s": trainer_tokens / trainer_seconds},
        "raw": raw, "ratio": ratio, "peak_rss_gb": peak_gb, "machine": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }, indent=2) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
