"""`cqa leaderboard RESULTS_DIR... -o OUT/`; hooked into the `cqa` command by `add_parser`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    """Bad input raises (InputError, one line per problem from `cqa`'s root, exit 1 or 2)."""
    from leaderboard.build import build
    from leaderboard.reference import reference_dirs

    references = [] if args.no_reference else reference_dirs()
    print(build([Path(d) for d in args.results_dirs], Path(args.out), references=references))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `leaderboard` subcommand on the `cqa` parser's subparsers."""
    p = subparsers.add_parser(
        "leaderboard",
        help="build leaderboard.md/.csv/.json and a self-contained index.html from lm-eval output dirs",
        description="Read every results_*.json (and samples_*.jsonl) below the given lm-eval --output_path "
        "dirs and write a deterministic leaderboard: one row per model identity, latest run each, one table "
        "per benchmark version and data hash. Reference runs of known readers (leaderboard/reference/) are "
        "shown beside yours, named 'reference · MODEL'.",
    )
    p.add_argument(
        "results_dirs", nargs="*", metavar="RESULTS_DIR",
        help="lm-eval --output_path dir(s); none: just the reference results",
    )  # fmt: skip
    p.add_argument(
        "--no-reference", action="store_true",
        help="leave out the reference results shipped with cqa (three readers on the default CQA-Bench)",
    )  # fmt: skip
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="output dir (created if missing)")
    p.set_defaults(func=run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (`python -m leaderboard`), same arguments as `cqa leaderboard`."""
    from cqa_tasks.cli import main as cqa_main

    return cqa_main(["leaderboard", *(sys.argv[1:] if argv is None else argv)])
