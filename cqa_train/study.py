"""The reproducible CQA study: CQA (BC CoT) vs LIMA-style vs response-only vs the untouched base.

    cqa study                              # = make study: 3 recipes x 5 epochs on SmolLM2, eval on `cqa`
    cqa study --epochs 2 --eval-dtype bfloat16 --out $CQA_HOME/study/quick
    cqa study --name bc25 --recipes cqa_cot --eval-epochs 5 --set subset=25   # data-size ablation

Order of work, epoch by epoch so that a partial study already answers the question for the
epochs it reached (each step skipped when done, so an interrupted study resumes where it stopped):
  1. evaluate the base with lm_eval --log_samples                         (DONE marker per eval)
  2. for epoch 1..E, for each recipe: train to the end of that epoch      (cqa train, paused there)
     and evaluate its merged model; then rewrite the report               (cqa compare vs the base)
An evaluation killed half-way keeps the requests it scored (lm_eval --use_cache) and continues.
Everything goes under $CQA_HOME/study/<name>/: runs/, evals/, report/ (compare.md|json|png and
tokens.html, the per-token view of the latest checkpoint) and study.json (timings).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cqa_tasks.checks import OptionValueError, arg_int

# Measured by the study itself on the 2-core development CPU (2026-11-30, docs/performance.md),
# SmolLM2-135M: used only for the up-front wall-time estimate printed before the study starts.
# Training: cqa_cot, fp32, 348 s per epoch of 100 examples. Evaluation: --model hf-prefix, batch 2,
# end to end per request, median of 12 full evaluations of 912 requests (280 s); bfloat16: the 3.2x
# slowdown measured by benchmarks/eval_speed.py.
SECONDS_PER_TRAIN_EXAMPLE = 3.5
SECONDS_PER_EVAL_REQUEST = {"float32": 0.31, "bfloat16": 1.0}
EVAL_REQUESTS_PER_ITEM = 6  # prompts.pair_requests: o|Y, o, d|Y, d, o|Y′, d|Y′


@dataclass
class StudyConfig:
    name: str = "smollm2"
    base_model: str = "smollm2"
    recipes: list[str] = field(default_factory=lambda: ["cqa_cot", "lima_style", "response_only"])
    epochs: int = 5
    eval_epochs: list[int] | None = None  # epochs whose checkpoints are evaluated (None: every epoch)
    tasks: str = "cqa"
    eval_dtype: str = "float32"
    eval_backend: str = "hf-prefix"  # lm-eval model type; hf-prefix = hf with shared prefixes (docs/performance.md)
    batch_size: int = 2
    limit: int | None = None  # lm_eval --limit, per leaf task (tests, smoke runs)
    metadata: dict | None = None  # lm_eval --metadata (e.g. {"data": ...} for cqa_custom)
    overrides: list[str] = field(default_factory=list)  # key=value applied to every recipe
    out: str | None = None

    def evaluated_epochs(self) -> list[int]:
        if self.eval_epochs is None:
            return list(range(1, self.epochs + 1))
        bad = [e for e in self.eval_epochs if not 1 <= e <= self.epochs]
        if bad:
            raise ValueError(f"eval epochs {bad} are outside 1..{self.epochs}")
        return sorted(set(self.eval_epochs))

    def out_dir(self) -> Path:
        from cqa_tasks.models import cqa_home

        return Path(self.out).expanduser() if self.out else cqa_home() / "study" / self.name


def _n_eval_items(cfg: StudyConfig) -> int:
    from cqa_tasks.data import BENCH_FILE, load_records
    from cqa_tasks.schema import N_LEAF_TASKS

    if cfg.metadata and cfg.metadata.get("data"):
        n = len(load_records(cfg.metadata["data"]))
        return min(n, cfg.limit) if cfg.limit else n
    records = load_records(BENCH_FILE)
    if cfg.limit:
        return min(len(records), N_LEAF_TASKS * cfg.limit)  # --limit applies per leaf task
    return len(records)


def estimate_seconds(cfg: StudyConfig, n_examples: dict[str, int]) -> dict[str, float]:
    train = sum(SECONDS_PER_TRAIN_EXAMPLE * n * cfg.epochs for n in n_examples.values())
    n_evals = 1 + len(cfg.recipes) * len(cfg.evaluated_epochs())
    per_request = SECONDS_PER_EVAL_REQUEST.get(cfg.eval_dtype, 1.0)
    evaluate = n_evals * _n_eval_items(cfg) * EVAL_REQUESTS_PER_ITEM * per_request
    return {"train": train, "evaluate": evaluate, "total": train + evaluate, "n_evals": n_evals}


def _recipe(cfg: StudyConfig, name: str):
    from cqa_train import recipe as recipes

    return recipes.load(name, [f"base_model={cfg.base_model}", f"epochs={cfg.epochs}", "save_every_epoch=true",
                               *cfg.overrides, f"output_dir={cfg.out_dir() / 'runs' / name}"])


def lm_eval_command(cfg: StudyConfig, pretrained: Path, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "lm_eval", "--model", cfg.eval_backend,
           "--model_args", f"pretrained={pretrained},dtype={cfg.eval_dtype}",
           "--tasks", cfg.tasks, "--device", "cpu" if not _cuda() else "cuda",
           "--batch_size", str(cfg.batch_size), "--output_path", str(out), "--log_samples",
           "--use_cache", str(out / "requests")]  # per-request sqlite cache: a killed eval resumes
    if cfg.limit:
        cmd += ["--limit", str(cfg.limit)]
    if cfg.metadata:
        cmd += ["--metadata", json.dumps(cfg.metadata)]
    return cmd


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def evaluate(cfg: StudyConfig, label: str, pretrained: Path, log: dict) -> tuple[Path, bool]:
    """The evaluation's output dir, and whether it ran now (False: already done, skipped)."""
    out = cfg.out_dir() / "evals" / label
    done = out / "DONE"
    if done.is_file():
        print(f"cqa study: skip eval {label} (done)", file=sys.stderr)
        return out, False
    out.mkdir(parents=True, exist_ok=True)
    cmd = lm_eval_command(cfg, pretrained, out)
    print(f"cqa study: eval {label}: {' '.join(cmd[2:])}", file=sys.stderr)
    started = time.time()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    with (out / "lm_eval.log").open("w") as logfile:
        proc = subprocess.run(cmd, stdout=logfile, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"lm_eval failed for {label} (exit {proc.returncode}); see {out / 'lm_eval.log'}")
    seconds = time.time() - started
    log["evals"][label] = {"seconds": round(seconds, 1), "pretrained": str(pretrained)}
    done.write_text(json.dumps(log["evals"][label]) + "\n")
    return out, True


TOKEN_VIEW_ITEMS = 3  # literary items in report/tokens.html


def write_report(cfg: StudyConfig, evals: dict[str, Path], model_dirs: dict[str, Path]) -> Path | None:
    """compare.md/json/png of every evaluated checkpoint against the base (None before there is one),
    and tokens.html: the per-token view, base vs the latest checkpoint, of the literary items whose
    ΔI it changed most."""
    from cqa_train.token_view import write_token_view
    from leaderboard.compare import compare_runs, load_run
    from leaderboard.compare_report import write_outputs

    if "base" not in evals or len(evals) < 2:
        return None
    reference = load_run(str(evals["base"]), "base")
    runs = [load_run(str(path), label) for label, path in evals.items() if label != "base"]
    result = compare_runs(runs, reference)
    report = write_outputs(result, cfg.out_dir() / "report")["markdown"]
    latest = runs[-1].label
    literary = [row for row in result["items"].get(latest, []) if row["group"] == "literary"]
    chosen = sorted(literary, key=lambda row: -abs(row["delta_delta_i"]))[:TOKEN_VIEW_ITEMS]
    if chosen:
        data = (cfg.metadata or {}).get("data")
        write_token_view([row["id"] for row in chosen], str(model_dirs["base"]), str(model_dirs[latest]),
                         report.parent / "tokens.html", data=data, labels=("base", latest), dtype=cfg.eval_dtype)
    return report


def report_covers(cfg: StudyConfig, evals: dict[str, Path]) -> bool:
    """True when report/compare.json already compares exactly these evaluations with the base."""
    path = cfg.out_dir() / "report" / "compare.json"
    if not path.is_file():
        return False
    try:
        labels = {run["label"] for run in json.loads(path.read_text(encoding="utf-8"))["runs"]}
    except (ValueError, KeyError, TypeError):
        return False
    return labels == set(evals) - {"base"}


def check_study(cfg: StudyConfig) -> tuple[list[int], dict, dict[str, int]]:
    """Every problem of a study's configuration, raised together before anything is written: the
    epochs, the output dir, the base model, every recipe with the overrides, their data, --metadata's
    data file. Returns the evaluated epochs, the recipes and their numbers of examples."""
    from cqa_tasks.checks import Issue, attempt, gather, output_dir, raise_if, usage
    from cqa_tasks.data import load_records
    from cqa_train.trainer import base_model_issues, load_examples

    issues = output_dir(cfg.out_dir(), "--out" if cfg.out else "--name")
    try:
        eval_epochs = cfg.evaluated_epochs()
    except ValueError as e:
        issues.append(usage("--eval-epochs", str(e)))
        eval_epochs = []
    issues += [Issue(f"--base-model {cfg.base_model}", p.message) for p in base_model_issues(cfg.base_model)]
    recipes = dict(zip(cfg.recipes, attempt(issues, gather, cfg.recipes, lambda n: _recipe(cfg, n)) or [], strict=False))
    counts = attempt(issues, gather, recipes.values(), lambda r: len(load_examples(r)[0])) or []
    if cfg.metadata and cfg.metadata.get("data"):
        attempt(issues, load_records, cfg.metadata["data"])
    raise_if(issues)
    return eval_epochs, recipes, dict(zip(recipes, counts, strict=True))


def run_study(cfg: StudyConfig) -> Path:
    from cqa_tasks import models
    from cqa_tasks.atomic import write_text
    from cqa_train.trainer import train

    eval_epochs, recipes, n_examples = check_study(cfg)  # bad input fails here, before anything is written
    root = cfg.out_dir()
    root.mkdir(parents=True, exist_ok=True)
    log_file = root / "study.json"
    log = json.loads(log_file.read_text()) if log_file.is_file() else {"config": asdict(cfg), "train": {}, "evals": {}}
    log["config"] = asdict(cfg)

    def save_log() -> None:
        write_text(log_file, json.dumps(log, indent=2) + "\n")

    estimate = estimate_seconds(cfg, n_examples)
    print(
        f"cqa study: {len(recipes)} recipes x {cfg.epochs} epochs, {estimate['n_evals']:.0f} evaluations on {cfg.tasks}; "
        f"expected wall time about {estimate['total'] / 60:.0f} min on a 2-core CPU "
        f"(train {estimate['train'] / 60:.0f} min, evaluate {estimate['evaluate'] / 60:.0f} min); finished steps are skipped",
        file=sys.stderr,
    )
    started = time.time()

    base = models.prepare(cfg.base_model) if cfg.base_model in models.MODELS else Path(cfg.base_model)
    evals = {"base": evaluate(cfg, "base", base, log)[0]}
    model_dirs = {"base": base}
    save_log()
    report = None
    for epoch in range(1, cfg.epochs + 1):
        for name, recipe in recipes.items():
            run = cfg.out_dir() / "runs" / name
            merged = run / f"epoch-{epoch}" / "merged"
            if (merged / "config.json").is_file():
                print(f"cqa study: skip train {name} epoch {epoch} (done)", file=sys.stderr)
            else:
                t0 = time.time()
                train(recipe, stop_after_epoch=epoch)
                manifest = json.loads((run / "manifest.json").read_text())
                seconds = log["train"].get(name, {}).get("this_study", 0.0) + time.time() - t0
                log["train"][name] = {"run": str(run), "wall_seconds": manifest.get("wall_seconds"), "this_study": round(seconds, 1)}
                save_log()
            if not (merged / "config.json").is_file() or epoch not in eval_epochs:  # not exported (max_steps), or not chosen
                continue
            label = f"{name}-epoch-{epoch}"
            evals[label], fresh = evaluate(cfg, label, merged, log)
            model_dirs[label] = merged
            save_log()
            if fresh:  # a resumed study re-reports once at the end, not after every skipped step
                report = write_report(cfg, evals, model_dirs) or report
    if not report_covers(cfg, evals):
        report = write_report(cfg, evals, model_dirs) or report
    elif report is None:
        report = cfg.out_dir() / "report" / "compare.md"
        print("cqa study: report up to date", file=sys.stderr)

    log["wall_seconds_this_session"] = round(time.time() - started, 1)
    log["estimate_seconds"] = estimate
    log["report"] = str(report)
    log["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    save_log()
    if report is not None:
        print(report.read_text(encoding="utf-8"))
        print(f"cqa study: report {report}", file=sys.stderr)
    return root


def _epoch_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise OptionValueError(f"expected comma-separated epoch numbers, e.g. 1,3,5; got {text!r}") from None


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise OptionValueError(f"expected comma-separated recipe names, got {text!r}")
    return names


def _metadata(text: str) -> dict:
    """--metadata: a JSON object (the option is named in the message, as argparse does)."""
    from cqa_tasks.checks import MAX_CONFIG_BYTES, parse_json

    if len(text) > MAX_CONFIG_BYTES:
        raise OptionValueError(f"is {len(text):,} characters; the limit is {MAX_CONFIG_BYTES:,}")
    try:
        value = parse_json(text)
    except ValueError as e:
        raise OptionValueError(f"not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise OptionValueError(f"must be a JSON object such as '{{\"data\": \"items.jsonl\"}}', got {type(value).__name__}")
    if "data" in value and (not isinstance(value["data"], str) or not value["data"].strip()):
        raise OptionValueError(f"data must be a file name, got {value['data']!r}")
    return value


def _name(text: str) -> str:
    if not text.strip() or text in (".", "..") or "/" in text or "\\" in text:
        raise OptionValueError(f"{text!r} is used as a directory name: no '/', '\\' or '..'")
    return text


def _nonempty(text: str) -> str:
    if not text.strip():
        raise OptionValueError("must not be empty")
    return text


def _study(args: argparse.Namespace) -> int:
    cfg = StudyConfig(
        name=args.name,
        base_model=args.base_model,
        recipes=args.recipes,
        epochs=args.epochs,
        eval_epochs=args.eval_epochs,
        tasks=args.tasks,
        eval_dtype=args.eval_dtype,
        eval_backend=args.eval_backend,
        batch_size=args.batch_size,
        limit=args.limit,
        metadata=args.metadata,
        overrides=args.set or [],
        out=args.out,
    )
    run_study(cfg)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="train the three recipes, evaluate every epoch, compare with the base",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = StudyConfig()
    p.add_argument("--name", type=_name, default=d.name, help="study name (its dir under $CQA_HOME/study)")
    p.add_argument("--base-model", type=_nonempty, default=d.base_model)
    p.add_argument("--recipes", type=_names, default=d.recipes, help="comma-separated recipe names or YAML files")
    p.add_argument("--epochs", type=arg_int(1, 10_000), default=d.epochs)
    p.add_argument("--eval-epochs", type=_epoch_list, help="comma-separated epochs to evaluate (default: every epoch), e.g. 5")
    p.add_argument("--tasks", type=_nonempty, default=d.tasks)
    p.add_argument("--eval-dtype", default=d.eval_dtype, choices=["float32", "bfloat16"])
    p.add_argument("--eval-backend", type=_nonempty, default=d.eval_backend,
                   help="lm_eval --model for the evaluations (hf-prefix or hf)")
    p.add_argument("--batch-size", type=arg_int(1, 4096), default=d.batch_size)
    p.add_argument("--limit", type=arg_int(1), default=None, help="lm_eval --limit per leaf task")
    p.add_argument("--metadata", type=_metadata, help="lm_eval --metadata JSON object (e.g. for cqa_custom)")
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="recipe overrides for every recipe")
    p.add_argument("--out", help="study dir (default $CQA_HOME/study/NAME)")
    p.set_defaults(func=_study)


if __name__ == "__main__":
    from cqa_tasks.cli import main

    sys.exit(main(["study", *sys.argv[1:]]))
