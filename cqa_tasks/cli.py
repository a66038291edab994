"""The `cqa` command: one entry point, subcommands per job.

This module is the root of the command, and it stays inside the plugin package: it imports nothing
from `cqa_train` or `leaderboard`. Those packages add their subcommands through the `cqa.commands`
entry-point group (pyproject.toml): each entry names a module with `add_parser(subparsers)` and,
optionally, `normalize_argv(argv)`.

    cqa models list|prepare NAME|path NAME     embedded reader models under $CQA_HOME
    cqa bench validate FILE...                 schema and construction-rule checks
    cqa bench stats FILE...                    composition table
    cqa score --model DIR ITEMS.jsonl          Calibrated Surprise outside lm-eval
    cqa train RECIPE [key=value…]              LoRA SFT (also: train validate|coverage|recipes)
    cqa compare RUN… --reference RUN           Δ(ΔI) statistics between lm-eval runs
    cqa leaderboard RESULTS_DIR… -o OUT/      leaderboard (md/csv/json/offline HTML) from lm-eval output dirs
    cqa meta-eval RESULTS_DIR… [-o OUT]        agreement with human judgments (cqa_human_* runs); convert, validate
    cqa study [--epochs N …]                   the CQA study end to end (make study)
    cqa tasks-path                             the dir for lm_eval --include_path (fallback)

Heavy imports (torch, transformers, lm_eval) happen inside the subcommands that need them.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn

from cqa_tasks.checks import (
    USAGE,
    InputError,
    Issue,
    arg_int,
    arg_real,
    attempt,
    gather,
    input_dir,
    one_line,
    output_file,
    raise_if,
    run_command,
    shape_problems,
    usage,
)

DTYPES = ("float32", "bfloat16", "float16")
MAX_BATCH = 4096  # requests per forward pass; more is a typo, not a machine


def _models(args: argparse.Namespace) -> int:
    from cqa_tasks import models

    if args.action == "list":
        for name, spec in models.MODELS.items():
            state = "prepared" if models.is_prepared(name) else "not prepared"
            print(f"{name:20s} {state:13s} {spec.description}")
        return 0
    if args.action == "path":
        if not models.is_prepared(args.name):
            raise InputError([Issue(args.name, f"not prepared yet; run `cqa models prepare {args.name}`")])
        print(models.model_dir(args.name))
        return 0
    print(models.prepare(args.name, force=args.force))
    return 0


def _bench_validate(args: argparse.Namespace) -> int:
    from cqa_tasks.data import check_file
    from cqa_tasks.schema import report_problems

    return report_problems(args.files, check_file, args.strict)


def composition_table(records: list[dict]) -> str:
    """Markdown table: group x lang x dimension x constraint source counts."""
    from cqa_tasks.schema import CONSTRAINT_SOURCES, DIMENSIONS, GROUPS, LANGS

    counts = Counter((r["group"], r["lang"], r["dimension"], r["constraint_source"]) for r in records)
    head = "| group | lang | dimension | " + " | ".join(CONSTRAINT_SOURCES) + " | total |"
    lines = [head, "|" + "---|" * (len(CONSTRAINT_SOURCES) + 4)]
    for g in GROUPS:
        for lang in LANGS:
            for d in DIMENSIONS:
                row = [counts[(g, lang, d, s)] for s in CONSTRAINT_SOURCES]
                if sum(row):
                    lines.append(f"| {g} | {lang} | {d} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    lines.append("")
    for g in GROUPS:
        sub = [r for r in records if r["group"] == g]
        if sub:
            zh = sum(r["lang"] == "zh" for r in sub)
            dims = Counter(r["dimension"] for r in sub)
            per_dim = ", ".join(f"{d} {dims[d]}" for d in DIMENSIONS)
            lines.append(f"{g}: {len(sub)} pairs; zh {zh} ({zh / len(sub):.0%}); {per_dim}")
    lines.append(f"total: {len(records)} pairs")
    return "\n".join(lines)


def _bench_stats(args: argparse.Namespace) -> int:
    from cqa_tasks.data import load_records

    records = [r for recs in gather(args.files, load_records) for r in recs]  # every file's problems
    print(composition_table(records))
    return 0


def audit_issues(args: argparse.Namespace) -> list[Issue]:
    """Every problem of `cqa bench audit`'s options, before any file is read or reader loaded."""
    from cqa_tasks.reader_cache import reader_issues

    issues = []
    for name, (lo, hi) in (("--cell-band", args.cell_band), ("--group-band", args.group_band)):
        if not 0 <= lo <= hi <= 1:
            issues.append(usage(name, f"want 0 <= LO <= HI <= 1, got {lo} {hi}"))
    for reader in args.reader:
        spec, _, dtype = reader.partition("@")
        if dtype and dtype not in DTYPES:
            issues.append(usage("--reader", f"{reader}: dtype {dtype!r} is not one of {', '.join(DTYPES)}"))
        issues += reader_issues(spec, "--reader")
    for spec in args.from_run:
        reader, sep, directory = spec.partition("=")
        if not (sep and reader and directory):
            issues.append(usage("--from-run", f"{spec!r} is not READER=DIR"))
        elif reader not in args.reader:
            issues.append(usage("--from-run", f"{reader!r} is not one of the --reader values"))
        else:
            issues += input_dir(Path(directory), directory)
    if args.json:
        issues += output_file(Path(args.json), "--json")
    return issues


def _bench_audit(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cqa_tasks import audit, prompts
    from cqa_tasks.data import load_records
    from cqa_tasks.models import cqa_home
    from cqa_tasks.reader_cache import import_run, loglikelihoods, resolve_reader, stored_dtype

    bands = audit.Bands(cell=tuple(args.cell_band), group=tuple(args.group_band), min_cell=args.min_cell)
    issues = audit_issues(args)
    items = [r for recs in attempt(issues, gather, args.files, load_records) or [] for r in recs]
    raise_if(issues)
    requests = [r for item in items for r in prompts.pair_requests(item)]  # o|Y, o, d|Y, d
    runs = dict(spec.split("=", 1) for spec in args.from_run)
    diffs: dict[str, dict[str, audit.PairDiffs]] = {}
    for reader in args.reader:
        spec, _, dtype = reader.partition("@")
        model_dir = resolve_reader(spec)
        dtype = dtype or (stored_dtype(model_dir) if args.dtype == "auto" else args.dtype)
        if reader in runs:
            added = import_run(Path(runs[reader]), model_dir, cqa_home() / "audit", dtype)
            print(f"cqa bench audit: {added} log-likelihoods of {reader} taken from {runs[reader]}", file=sys.stderr)
        bar = tqdm(total=None, desc=f"audit {spec}", unit="request", disable=None)

        def progress(done: int, total: int, bar=bar) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        lls = loglikelihoods(model_dir, requests, cqa_home() / "audit", dtype, args.batch_size, progress)
        bar.close()
        diffs[reader] = {item["id"]: audit.pair_diffs(*lls[4 * k : 4 * k + 4]) for k, item in enumerate(items)}
    result = audit.audit(items, diffs, bands, n_worst=args.worst)
    print(audit.render(result))
    if args.json:
        from cqa_tasks.atomic import write_text
        from cqa_tasks.audit import to_json
        from cqa_tasks.data import resolve, sha256_of

        files = {str(f): sha256_of(resolve(f)) for f in args.files}
        payload = to_json(result) | {"files": files, "items": audit.item_table(items, diffs)}
        write_text(Path(args.json), json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    return 0 if result.passed else 1


def score_issues(args: argparse.Namespace) -> list[Issue]:
    """Every problem of `cqa score`'s options, before any file is read or the model loaded."""
    from cqa_tasks.reader_cache import reader_issues

    issues = reader_issues(args.model, "--model")
    if args.text is not None and args.items:
        issues.append(usage("--text", "give ITEMS.jsonl or --text, not both"))
    elif args.text is None and not args.items:
        issues.append(usage("ITEMS", "give ITEMS.jsonl, or --text with --intent/--audience/--reality"))
    for option, value in (("--text", args.text), ("--intent", args.intent), ("--audience", args.audience),
                          ("--reality", args.reality)):
        if value is not None and args.text is None:
            issues.append(usage(option, "only goes with --text"))
        elif value is not None:
            issues += [usage(option, message) for _, message in shape_problems(value)]
    if args.text is not None and not args.text.strip():
        issues.append(usage("--text", "is empty"))
    return issues


def _score(args: argparse.Namespace) -> int:
    from cqa_tasks.data import load_records
    from cqa_tasks.prompts import with_foreign_constraints
    from cqa_tasks.reader_cache import resolve_reader

    issues = score_issues(args)
    # Y' is paired within each file (as the lm-eval tasks do), before --limit picks the items
    per_file = attempt(issues, gather, args.items, lambda f: with_foreign_constraints(load_records(f))) or []
    raise_if(issues)  # all of them, before the model loads
    from cqa_tasks.scoring import Reader, pointwise_mi, score_items

    reader = Reader(str(resolve_reader(args.model, "--model")), dtype=args.dtype, batch_size=args.batch_size)
    if args.text is not None:
        constraints = {"intent": args.intent or "", "audience": args.audience or "", "reality": args.reality or ""}
        print(json.dumps(pointwise_mi(reader, [args.text], [constraints], args.lang)[0], ensure_ascii=False))
        return 0
    from tqdm import tqdm

    from cqa_tasks.metric import PRIMARY_METRIC, aggregate

    records = [r for recs in per_file for r in recs][: args.limit]
    rows = []
    for start in tqdm(range(0, len(records), args.batch_size), desc="scoring", unit="batch"):
        rows += score_items(reader, records[start : start + args.batch_size])
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    if rows:
        shown = (PRIMARY_METRIC, "pair_acc", "pair_acc_balanced", "share_s_up", "contrast_pair_acc", "delta_i")
        summary = ", ".join(f"{k} {aggregate(k, [r[k] for r in rows]):.3f}" for k in shown)
        print(f"{len(rows)} pairs: {summary}", file=sys.stderr)
    return 0


def _tasks_path(args: argparse.Namespace) -> int:
    from cqa_tasks.data import task_dir

    print(task_dir())
    return 0


class OneLineParser(argparse.ArgumentParser):
    """argparse with a usage error as one line, `cqa score: error: --limit: …`, exit 2; subparsers
    (and the subcommands other packages register) are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {one_line(message.removeprefix('argument '))}\n")


def build_parser() -> argparse.ArgumentParser:
    from cqa_tasks.models import MODELS

    parser = OneLineParser(prog="cqa", description="Creative Quality Alignment tools")
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="embedded reader models (local, offline)")
    msub = models.add_subparsers(dest="action", required=True)
    msub.add_parser("list", help="known models and whether they are prepared")
    p = msub.add_parser("prepare", help="convert a packaged GGUF into an HF dir under $CQA_HOME")
    p.add_argument("name", choices=list(MODELS))
    p.add_argument("--force", action="store_true", help="convert again even if prepared")
    p = msub.add_parser("path", help="print the HF dir of a prepared model")
    p.add_argument("name", choices=list(MODELS))
    models.set_defaults(func=_models)

    bench = sub.add_parser("bench", help="CQA-Bench data files")
    bsub = bench.add_subparsers(dest="action", required=True)
    p = bsub.add_parser("validate", help="check files against the item schema; exit 1 on any error")
    p.add_argument("files", nargs="+")
    p.add_argument("--strict", action="store_true", help="treat construction-rule warnings as errors")
    p.set_defaults(func=_bench_validate)
    p = bsub.add_parser("stats", help="print the composition table")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_bench_stats)
    p = bsub.add_parser(
        "audit",
        help="is the benchmark balanced on surprise, ll_c, length and overlap? exit 1 if a share leaves its band",
    )
    p.add_argument("files", nargs="+")
    p.add_argument("--reader", action="append", default=[], metavar="NAME_OR_DIR[@DTYPE]",
                   help="an embedded reader (see `cqa models list`) or a model dir, optionally @bfloat16; repeatable")
    p.add_argument("--dtype", default="auto", choices=["auto", *DTYPES],
                   help="dtype of readers given without @DTYPE (default: auto, the dtype the weights are stored in)")
    p.add_argument("--from-run", action="append", default=[], metavar="READER=DIR",
                   help="reuse what an lm-eval run of READER (as given to --reader) computed: its samples under DIR")
    p.add_argument("--batch-size", type=arg_int(1, MAX_BATCH), default=4,
                   help="requests per forward pass (default: %(default)s)")
    p.add_argument("--cell-band", nargs=2, type=arg_real(), default=[0.35, 0.65], metavar=("LO", "HI"),
                   help="allowed share in a group x language x dimension cell (default: 0.35 0.65)")
    p.add_argument("--group-band", nargs=2, type=arg_real(), default=[0.42, 0.58], metavar=("LO", "HI"),
                   help="allowed share in each group overall (default: 0.42 0.58)")
    p.add_argument("--min-cell", type=arg_int(0), default=10, help="cells with fewer pairs are shown, not held to the band")
    p.add_argument("--worst", type=arg_int(0), default=3, help="items listed per flagged share (default: %(default)s)")
    p.add_argument("--json", help="also write the shares, flags and per-item differences as JSON")
    p.set_defaults(func=_bench_audit)

    score = sub.add_parser("score", help="Calibrated Surprise with any local HF causal LM")
    score.add_argument("items", nargs="*", help="CQA-Bench JSONL files")
    score.add_argument("--model", required=True, help="HF model dir (e.g. `cqa models path smollm2`) or an embedded name")
    score.add_argument("--dtype", default="float32", choices=DTYPES)
    score.add_argument("--batch-size", type=arg_int(1, MAX_BATCH), default=8)
    score.add_argument("--limit", type=arg_int(1), default=None, help="score the first N items")
    score.add_argument("--text", help="score one passage instead of item files")
    score.add_argument("--lang", default="en", choices=["en", "zh"])
    score.add_argument("--intent")
    score.add_argument("--audience")
    score.add_argument("--reality")
    score.set_defaults(func=_score)

    for module in command_modules():
        module.add_parser(sub)

    tasks = sub.add_parser("tasks-path", help="print the task dir (for lm_eval --include_path)")
    tasks.set_defaults(func=_tasks_path)
    return parser


COMMAND_GROUP = "cqa.commands"
# Subcommands in this order in `cqa --help`; others that a package registers follow by name.
COMMAND_ORDER = ("train", "compare", "leaderboard", "meta-eval", "study", "tokens")


@functools.cache
def command_modules() -> tuple:
    """The modules registered under the `cqa.commands` entry-point group, in COMMAND_ORDER. One that
    cannot be imported (a half-installed or stale package) is skipped with one warning line: it must
    not take every other subcommand down with a traceback."""
    import importlib
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP)}
    names = [n for n in COMMAND_ORDER if n in found] + sorted(set(found) - set(COMMAND_ORDER))
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(found[name]))
        except ImportError as e:
            print(f"cqa: warning: subcommand {name!r} ({found[name]}) not available: {e}", file=sys.stderr)
    return tuple(modules)


def command_name(args: argparse.Namespace) -> str:
    """`cqa bench validate`, `cqa train` (for `cqa train [run] RECIPE`): how errors are prefixed."""
    words = ["cqa", args.command]
    action = getattr(args, "action", None)
    if isinstance(action, str) and action != "run":
        words.append(action)
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    """The `cqa` command. Bad input (all of it, one line per problem), an unusable path and Ctrl-C
    end in one line each and an exit code (2 usage, 1 bad data, 130 interrupted), never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse() -> argparse.Namespace | int:
        nonlocal argv
        for module in command_modules():
            normalize = getattr(module, "normalize_argv", None)
            if normalize is not None:
                argv = normalize(argv)
        try:
            return build_parser().parse_args(argv)
        except SystemExit as e:  # a usage error (printed) or --help: the exit code, not an exception
            return e.code if isinstance(e.code, int) else USAGE

    parsed = run_command("cqa", parse)
    if isinstance(parsed, int):
        return parsed
    return run_command(command_name(parsed), lambda: parsed.func(parsed))


if __name__ == "__main__":
    sys.exit(main())
