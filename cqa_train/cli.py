"""`cqa train …` subcommands (registered on the `cqa` command through the `cqa.commands` entry point)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cqa_tasks.checks import arg_int, attempt, gather, output_file, raise_if, usage


def _validate(args: argparse.Namespace) -> int:
    from cqa_tasks.schema import report_problems
    from cqa_train.annotations import check_file

    return report_problems(args.files, check_file)


def coverage_report(files: list[str]) -> tuple[str, dict]:
    """Markdown report and JSON-able data: stats lines, aspect shares per file, tagger quality."""
    from cqa_train import annotations, coverage

    loaded = gather(files, lambda f: (Path(f).name, annotations.load(f)))  # every file's problems at once
    columns: dict[str, dict[str, float]] = {}
    methods: dict[str, str] = {}
    quality = None
    for name, records in loaded:
        if records and all("reasoning" in r for r in records):
            columns[f"{name} (tags)"] = coverage.tagged_shares(records)["steps"] | {coverage.NONE: 0.0}
            methods[f"{name} (tags)"] = "aspect tags (share of reasoning steps)"
            # the tagger on the same file, so tagged and untagged sets can be compared like for like
            columns[f"{name} (tagger)"] = coverage.estimated_shares(records)
            methods[f"{name} (tagger)"] = "keyword tagger estimate (share of reasoning steps)"
            quality = quality or coverage.tagger_quality(records)
        else:
            columns[f"{name} (tagger)"] = coverage.estimated_shares(records)
            methods[f"{name} (tagger)"] = "keyword tagger estimate (share of response sentences)"
    if quality is None:
        quality = coverage.tagger_quality(annotations.load(annotations.BC_FILE, "bc"))
    aspects = [*annotations.ASPECTS, coverage.NONE]
    lines = [coverage.stats_line(name, recs) for name, recs in loaded]
    lines += ["", "| aspect | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for a in aspects:
        lines.append(f"| {a} | " + " | ".join(f"{columns[n][a]:.1%}" for n in columns) + " |")
    lines += ["", *[f"- {n}: {m}" for n, m in methods.items()], ""]
    lines.append("keyword tagger vs the BC aspect tags (per reasoning step):")
    lines += ["| aspect | precision | recall | n |", "|---|---|---|---|"]
    for a in annotations.ASPECTS:
        q = quality[a]
        lines.append(f"| {a} | {q['precision']:.2f} | {q['recall']:.2f} | {q['n']} |")
    lines.append(f"accuracy {quality['_all']['accuracy']:.2f} over {quality['_all']['n']} steps (chance with 4 aspects: 0.25)")
    return "\n".join(lines), {"shares": columns, "methods": methods, "tagger_quality": quality}


PLOT_FORMATS = ("png", "svg", "pdf")


def plot_coverage(shares: dict[str, dict[str, float]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    aspects = list(next(iter(shares.values())))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(shares)
    for k, (name, col) in enumerate(shares.items()):
        xs = [i + k * width for i in range(len(aspects))]
        ax.bar(xs, [100 * col[a] for a in aspects], width, label=name.replace("$", r"\$"))  # no mathtext
    ax.set_xticks([i + width * (len(shares) - 1) / 2 for i in range(len(aspects))], aspects)
    ax.set_ylabel("share of content (%)")
    ax.set_title("Aspect coverage of SFT data")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def coverage_output_issues(plot: str | None, json_out: str | None) -> list:
    issues = []
    if plot:
        issues += output_file(Path(plot), "--plot")
        if Path(plot).suffix.lower().lstrip(".") not in PLOT_FORMATS:
            issues.append(usage(plot, f"give a file name ending in {', '.join('.' + f for f in PLOT_FORMATS)}", "--plot"))
    if json_out:
        issues += output_file(Path(json_out), "--json")
    if plot and json_out and Path(plot).resolve() == Path(json_out).resolve():
        issues.append(usage(json_out, "is also the --plot file", "--json"))
    return issues


def _coverage(args: argparse.Namespace) -> int:
    from cqa_tasks.atomic import Outputs

    issues = coverage_output_issues(args.plot, args.json)
    result = attempt(issues, coverage_report, args.files)
    raise_if(issues)  # bad outputs and bad inputs together, before anything is written
    report, data = result
    print(report)
    with Outputs() as out:  # the plot and the JSON appear together, or neither does
        if args.plot:
            plot_coverage(data["shares"], out.path(Path(args.plot)))
        if args.json:
            out.text(Path(args.json), json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if args.plot:
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    from cqa_train import recipe as recipes
    from cqa_train.trainer import train

    train(recipes.load(args.recipe, args.overrides), overwrite=args.overwrite, stop_after_epoch=args.stop_after_epoch)
    return 0


def _recipes(args: argparse.Namespace) -> int:
    from cqa_train.recipe import recipes_dir, shipped_recipes

    for name in shipped_recipes():
        print(f"{name:28s} {recipes_dir() / (name + '.yaml')}")
    return 0


TRAIN_ACTIONS = ("run", "validate", "coverage", "recipes")


def normalize_argv(argv: list[str]) -> list[str]:
    """`cqa train RECIPE …` is shorthand for `cqa train run RECIPE …`."""
    if len(argv) > 1 and argv[0] == "train" and argv[1] not in TRAIN_ACTIONS and not argv[1].startswith("-"):
        return [argv[0], "run", *argv[1:]]
    return argv


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="LoRA fine-tuning (`cqa train RECIPE [key=value ...]`) and training data tools",
        description="cqa train RECIPE [key=value ...] runs a recipe (same as `cqa train run …`).",
    )
    tsub = train.add_subparsers(dest="action", required=True)
    p = tsub.add_parser("run", help="train a recipe (a YAML path or a shipped name); resumes if interrupted")
    p.add_argument("recipe")
    p.add_argument("overrides", nargs="*", help="key=value, dotted for nested keys (lora.rank=16)")
    p.add_argument("--overwrite", action="store_true", help="delete an existing run dir and train again")
    p.add_argument("--stop-after-epoch", type=arg_int(1), metavar="K",
                   help="pause once epoch K is exported (checkpoint kept); run again to continue the same run")
    p.set_defaults(func=_run)
    p = tsub.add_parser("recipes", help="list the shipped recipes")
    p.set_defaults(func=_recipes)
    p = tsub.add_parser("validate", help="check BC-Protocol / SFT JSONL files; exit 1 on any error")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_validate)
    p = tsub.add_parser("coverage", help="share of content per aspect (intent, audience, reality, craft)")
    p.add_argument("files", nargs="+", help="JSONL files (shipped names like bc_protocol_v1.jsonl also work)")
    p.add_argument("--plot", help="write a bar chart (PNG or SVG by extension)")
    p.add_argument("--json", help="write the numbers as JSON")
    p.set_defaults(func=_coverage)
