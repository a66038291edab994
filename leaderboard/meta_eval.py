"""`cqa meta-eval`: agreement with human judgments, from lm-eval runs of cqa_human_pairs / _ratings.

    cqa meta-eval RESULTS_DIR… [-o OUT]                 table (stdout; with -o also meta_eval.md/.json + PNGs)
    cqa meta-eval convert hanna FILE -o ratings.jsonl   HANNA's annotation CSV/JSON -> the ratings shape
    cqa meta-eval convert pairs FILE --map chosen=a,rejected=b,prompt=q -o pairs.jsonl
    cqa meta-eval convert ratings FILE --map text=story,human.overall=score -o ratings.jsonl
    cqa meta-eval validate pairs|ratings FILE… [--criteria a,b]

Hooked into the `cqa` command by `add_parser` (the `cqa.commands` entry point in pyproject.toml).
`cqa leaderboard … -o OUT` links OUT/meta-eval/meta_eval.md when it is there, so
`-o OUT/meta-eval` puts the report beside the leaderboard.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leaderboard.meta_eval_report import LEADERBOARD_DIR

ACTIONS = ("report", "convert", "validate")


def normalize_argv(argv: list[str]) -> list[str]:
    """`cqa meta-eval RESULTS_DIR…` is shorthand for `cqa meta-eval report RESULTS_DIR…`."""
    if len(argv) > 1 and argv[0] == "meta-eval" and argv[1] not in (*ACTIONS, "-h", "--help"):
        return [argv[0], "report", *argv[1:]]
    return argv


def _report(args: argparse.Namespace) -> int:
    from leaderboard.lm_eval_output import OutputError
    from leaderboard.meta_eval_report import to_markdown, write_report
    from leaderboard.meta_eval_runs import build_sections, read_runs

    try:
        runs = read_runs([Path(d) for d in args.results_dirs], lambda m: print(f"cqa meta-eval: warning: {m}", file=sys.stderr))
    except OutputError as e:
        print(f"cqa meta-eval: error: {e}", file=sys.stderr)
        return 1
    sections = build_sections(runs)
    if not sections:
        print("cqa meta-eval: error: no cqa_human_pairs / cqa_human_ratings results under "
              + ", ".join(args.results_dirs) + "; run `lm_eval --tasks cqa_human_ratings --metadata "
              "'{\"data\": \"FILE\"}' --output_path DIR` and pass DIR", file=sys.stderr)  # fmt: skip
        return 1
    if args.out:
        written = write_report(sections, Path(args.out))
        print((Path(args.out) / "meta_eval.md").read_text(encoding="utf-8"))
        print(f"cqa meta-eval: wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    else:
        print(to_markdown(sections))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from leaderboard import human_convert as hc

    path = Path(args.file)
    if not path.is_file():
        print(f"{args.file}:0: <file>: not found", file=sys.stderr)
        return 1
    rows = hc.read_rows(path)
    if args.format == "hanna":
        if args.map:
            print("cqa meta-eval: error: --map is for pairs and ratings files; hanna has fixed columns", file=sys.stderr)
            return 2
        records, problems = hc.convert_hanna(rows, str(path))
    else:
        try:
            mapping = hc.parse_map(args.map or "", args.format)
        except ValueError as e:
            print(f"cqa meta-eval: error: {e}", file=sys.stderr)
            return 2
        records, problems = hc.convert_mapped(rows, str(path), args.format, mapping)
    for p in problems:
        print(p, file=sys.stderr)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        print(f"FAILED: {len(errors)} error(s); nothing written", file=sys.stderr)
        return 1
    hc.write_jsonl(records, Path(args.out))
    print(f"wrote {len(records)} records to {args.out}", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from cqa_tasks.human_data import check_file, parse_criteria
    from cqa_tasks.schema import report_problems

    criteria = parse_criteria(args.criteria) if args.kind == "ratings" else None
    return report_problems(args.files, lambda path: check_file(path, args.kind, criteria), args.strict)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `meta-eval` subcommand on the `cqa` parser's subparsers."""
    p = subparsers.add_parser(
        "meta-eval",
        help="agreement with human judgments: tables and plots from cqa_human_* runs; converters; validation",
        description="cqa meta-eval RESULTS_DIR… [-o OUT] reads lm-eval output dirs with cqa_human_pairs / "
        "cqa_human_ratings runs and shows every score's agreement with the human judgments, readers side by "
        "side (same as `cqa meta-eval report …`).",
    )
    sub = p.add_subparsers(dest="action", required=True)
    r = sub.add_parser("report", help="table (and with -o: meta_eval.md, meta_eval.json, PNG plots)")
    r.add_argument("results_dirs", nargs="+", metavar="RESULTS_DIR", help="lm-eval --output_path dir(s)")
    r.add_argument("-o", "--out", metavar="OUT", help=f"output dir (use LEADERBOARD_OUT/{LEADERBOARD_DIR} to have "
                   "the leaderboard page link it)")  # fmt: skip
    r.set_defaults(func=_report)
    c = sub.add_parser("convert", help="published human-judgment files -> the JSONL the tasks read")
    c.add_argument("format", choices=("hanna", "pairs", "ratings"), help="hanna: HANNA's annotation CSV/JSON; "
                   "pairs / ratings: any file, fields named with --map")  # fmt: skip
    c.add_argument("file", metavar="CSV_OR_JSON")
    c.add_argument("-o", "--out", required=True, metavar="OUT.jsonl")
    c.add_argument("--map", metavar="TARGET=SOURCE,…", help="field names: e.g. chosen=response_a,rejected=response_b,"
                   "prompt=meta.question (dotted: nested); ratings: human.<criterion>=field")  # fmt: skip
    c.set_defaults(func=_convert)
    v = sub.add_parser("validate", help="check pairs or ratings files; one line per problem, exit 1 on any error")
    v.add_argument("kind", choices=("pairs", "ratings"))
    v.add_argument("files", nargs="+")
    v.add_argument("--criteria", help="ratings: the criteria the task will use (comma-separated); default: all common")
    v.add_argument("--strict", action="store_true", help="treat warnings as errors")
    v.set_defaults(func=_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point, same arguments as `cqa meta-eval`."""
    parser = argparse.ArgumentParser(prog="cqa")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(normalize_argv(["meta-eval", *(sys.argv[1:] if argv is None else argv)]))
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"cqa: error: {e}", file=sys.stderr)
        return 1
