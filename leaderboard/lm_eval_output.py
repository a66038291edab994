"""The one reader of what `lm_eval --output_path DIR --log_samples` writes, for `cqa leaderboard` and `cqa compare`.

lm-eval 0.4.13 writes DIR/<model_name_sanitized>/results_<date>.json and, per task,
samples_<task>_<date>.jsonl beside it, with <date> = datetime.now().isoformat() with ':' replaced
by '-' (microseconds may be absent). Everything here is about files and their shape; what the
numbers mean is the callers' business.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cqa_tasks.checks import MAX_RESULTS_BYTES, InputError, decode_issue, input_file, parse_json
from cqa_tasks.schema import DIMENSIONS, GROUP_OF_TASK_PREFIX, LANGS

DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
RESULTS_NAME = re.compile(rf"^results_(?P<date>{DATE})\.json$")
# A CQA-Bench leaf task: cqa_<creative|factual>_<lang>_<dimension>.
LEAF_TASK = re.compile(
    rf"^cqa_({'|'.join(GROUP_OF_TASK_PREFIX)})_({'|'.join(LANGS)})_({'|'.join(DIMENSIONS)})$"
)


class OutputError(InputError):
    """A results or samples file that cannot be used; the message names the file (and line)."""


class SampleLineError(OutputError):
    """A line of a samples file that is not JSON (or not UTF-8, or nested too deeply)."""

    def __init__(self, path: Path, line: int, error: ValueError):
        msg = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        super().__init__(f"{path}:{line}: not valid JSON ({error})")
        self.path, self.line, self.error, self.msg = path, line, error, msg


def number(value: Any, text: bool = False) -> float | None:
    """A finite float, or None (missing, "N/A", bool, NaN, inf). Strings count only with `text=True`,
    for values that are text by nature (model_args given on the command line)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and text:
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def results_files_in(directory: Path) -> list[tuple[str, Path]]:
    """(date, file) for every results_<date>.json directly in `directory`."""
    found = []
    for path in directory.glob("results_*.json"):
        match = RESULTS_NAME.match(path.name)
        if match and path.is_file():
            found.append((match["date"], path))
    return found


def latest_results_file(path: Path) -> Path:
    """The run given as an output dir, a model subdir or a results file: its latest results file."""
    if path.is_file():
        if not RESULTS_NAME.match(path.name):
            raise OutputError(f"{path}: not an lm-eval results file (expected results_<time>.json)")
        return path
    if not path.is_dir():
        raise OutputError(f"{path}: no such run directory")
    found = results_files_in(path)
    if not found:
        subdirs = sorted(d for d in path.iterdir() if d.is_dir() and results_files_in(d))
        if len(subdirs) > 1:
            names = ", ".join(d.name for d in subdirs)
            raise OutputError(f"{path} holds results of several models ({names}); pass one of those dirs")
        if subdirs:
            found = results_files_in(subdirs[0])
    if not found:
        raise OutputError(f"{path}: no lm-eval results_<time>.json here or one level down")
    # ISO timestamps of one format sort as strings; a missing ".micro" part sorts first, as it should
    return max(found, key=lambda t: t[0])[1]


def find_results_files(dirs: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(root, file) for every results_*.json below the given dirs, each file once, sorted."""
    seen: dict[Path, tuple[Path, Path]] = {}
    for root in dirs:
        root = Path(root)
        candidates = [root] if root.is_file() else sorted(root.rglob("results_*.json"))
        for path in candidates:
            if path.is_file():
                seen.setdefault(path.resolve(), (root.parent if root.is_file() else root, path))
    return sorted(seen.values(), key=lambda rp: str(rp[1]))


def read_results(path: Path) -> dict:
    """The parsed results file; OutputError when it is not JSON or not an lm-eval results object."""
    problems = input_file(path, max_bytes=MAX_RESULTS_BYTES)
    if problems:
        raise OutputError(problems[0].message)
    try:
        data = parse_json(path.read_text(encoding="utf-8"), allow_nan=True)
    except UnicodeDecodeError as e:
        raise OutputError(f"not valid UTF-8 (byte {e.start} of the file)") from None
    except (OSError, ValueError) as e:  # JSONDecodeError, NaN, nesting too deep
        raise OutputError(f"not valid JSON (truncated or corrupt?): {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise OutputError("not an lm-eval results file (no `results` object)")
    return data


def samples_path(results_path: Path, task: str) -> Path | None:
    """The samples file of `task` written with this results file, if it exists."""
    match = RESULTS_NAME.match(results_path.name)
    if not match:
        return None
    path = results_path.with_name(f"samples_{task}_{match['date']}.jsonl")
    return path if path.is_file() else None


def samples_files(results_path: Path) -> dict[str, Path]:
    """task -> samples file, for every samples file written with this results file."""
    match = RESULTS_NAME.match(results_path.name)
    if not match:
        return {}
    suffix = f"_{match['date']}.jsonl"
    return {
        p.name[len("samples_") : -len(suffix)]: p for p in sorted(results_path.parent.glob(f"samples_*{suffix}"))
    }


def sample_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed row) of a samples file, blank lines skipped; OutputError names file:line."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise OutputError(str(decode_issue(str(path), raw, e.start, lineno))) from None
            if not line.strip():
                continue
            try:
                yield lineno, parse_json(line, allow_nan=True)
            except ValueError as e:  # JSONDecodeError, NaN, nesting too deep
                raise SampleLineError(path, lineno, e) from None


def task_metadata(results: dict, task: str) -> dict:
    """`configs.<task>.metadata` of a results file ({} where absent or malformed)."""
    configs = results.get("configs") if isinstance(results.get("configs"), dict) else {}
    config = configs.get(task) if isinstance(configs.get(task), dict) else {}
    meta = config.get("metadata")
    return meta if isinstance(meta, dict) else {}


def date_from_name(path: Path) -> float:
    """The time lm-eval put in a results file's name (taken as UTC), for files without `date`; 0 if none."""
    match = RESULTS_NAME.match(path.name)
    try:
        stamp = datetime.strptime(match["date"], "%Y-%m-%dT%H-%M-%S.%f") if match else None
    except ValueError:
        return 0.0
    return stamp.replace(tzinfo=timezone.utc).timestamp() if stamp else 0.0
