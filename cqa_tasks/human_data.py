"""Human-judged data files (the user's own): their two shapes, validation, loading.

    pairs    {"id", "prompt", "chosen", "rejected", "lang"?}          (the human preferred `chosen`)
    ratings  {"id", "prompt", "text", "human": {criterion: number}, "lang"?}

`lang` is en (default) or zh; it picks the prompt template and header (cqa_tasks.prompts). Other
fields are allowed and ignored, so a converted file can keep its provenance (`meta`, `source`).
Problems are reported like the bench's, one `file:line: field: message` each, through the shared
JSONL loop of cqa_tasks.schema; the tasks refuse a file with any error before scoring anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from cqa_tasks.checks import read_text
from cqa_tasks.data import data_dir, resolve_file
from cqa_tasks.metric import has_cjk
from cqa_tasks.schema import LANGS, BenchDataError, Problem, errors_only, validate_jsonl

KINDS = ("pairs", "ratings")
TEXT_FIELDS = {"pairs": ("id", "prompt", "chosen", "rejected"), "ratings": ("id", "prompt", "text")}
DEFAULT_LANG = "en"
# A criterion becomes part of lm-eval metric names (`tau:<score>:<criterion>,none`): no separators.
CRITERION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class HumanDataError(BenchDataError):
    """A human-judged data file with errors; the message names the first as file:line: field."""

    def __init__(self, problems: list[Problem], kind: str):
        self.problems = problems
        more = f" (and {len(problems) - 1} more; `cqa meta-eval validate {kind} FILE` lists them)"
        ValueError.__init__(self, str(problems[0]) + (more if len(problems) > 1 else ""))


def _strings(obj: dict, fields: Sequence[str], err: Callable[[str, str], Problem]) -> list[Problem]:
    problems = [err(f, "missing required field") for f in fields if f not in obj]
    problems += [
        err(f, "must be a non-empty string") for f in fields if f in obj and (not isinstance(obj[f], str) or not obj[f].strip())
    ]
    if "lang" in obj and obj["lang"] not in LANGS:
        problems.append(err("lang", f"{obj['lang']!r} is not one of {', '.join(LANGS)}"))
    return problems


def _cjk_warnings(obj: dict, fields: Sequence[str], err: Callable[..., Problem]) -> list[Problem]:
    if obj.get("lang") != "zh":
        return []
    return [err(f, "lang is zh but the text has no CJK characters", "warning") for f in fields if not has_cjk(obj[f])]


def check_pair(obj: object, path: str, line: int) -> list[Problem]:
    def err(field: str, message: str, severity: str = "error") -> Problem:
        return Problem(path, line, field, message, severity)

    if not isinstance(obj, dict):
        return [err("<record>", f"expected a JSON object, got {type(obj).__name__}")]
    problems = _strings(obj, TEXT_FIELDS["pairs"], err)
    if problems:
        return problems
    if obj["chosen"].strip() == obj["rejected"].strip():
        return [err("rejected", "identical to chosen: the pair cannot tell any score apart")]
    return _cjk_warnings(obj, ("chosen", "rejected"), err)


def rating_checker(criteria: Sequence[str] | None = None) -> Callable[[object, str, int], list[Problem]]:
    """The record check for ratings; with `criteria`, each of them must be in the record's `human`."""

    def check(obj: object, path: str, line: int) -> list[Problem]:
        def err(field: str, message: str, severity: str = "error") -> Problem:
            return Problem(path, line, field, message, severity)

        if not isinstance(obj, dict):
            return [err("<record>", f"expected a JSON object, got {type(obj).__name__}")]
        problems = _strings(obj, TEXT_FIELDS["ratings"], err)
        human = obj.get("human")
        if "human" not in obj:
            problems.append(err("human", "missing required field"))
        elif not isinstance(human, dict) or not human:
            problems.append(err("human", "must be a non-empty object {criterion: number}"))
        else:
            for key, value in human.items():
                if not CRITERION.match(key):
                    problems.append(err(f"human.{key}", "criterion names are letters, digits, _ . - (no spaces, ':' or ',')"))
                elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    problems.append(err(f"human.{key}", f"must be a finite number, got {value!r}"))
            for key in criteria or ():
                if key not in human:
                    problems.append(err(f"human.{key}", "missing (a criterion asked for in criteria)"))
        return problems or _cjk_warnings(obj, ("text",), err)

    return check


def parse_criteria(value: object) -> list[str] | None:
    """The `criteria` of --metadata: a list of names, or one comma-separated string; None: all common."""
    if value is None or value == "" or value == []:
        return None
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and CRITERION.match(n) for n in names):
        raise ValueError(f"criteria must be a list of criterion names (letters, digits, _ . -), got {value!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"criteria lists a name twice: {names}")
    return names


def common_criteria(records: Sequence[dict], path: str) -> tuple[list[str], list[Problem]]:
    """The criteria present in every record, in the first record's order; a warning for each one
    that some records lack (it is left out), an error when none is common."""
    if not records:
        return [], []
    counts: dict[str, int] = {}
    for r in records:
        for key in r["human"]:
            counts[key] = counts.get(key, 0) + 1
    order = list(dict.fromkeys(k for r in records for k in r["human"]))
    common = [k for k in order if counts[k] == len(records)]
    problems = [
        Problem(path, 0, f"human.{k}", f"in {counts[k]} of {len(records)} records: left out (name it in criteria "
                "to see which records lack it)", "warning")
        for k in order if counts[k] < len(records)
    ]  # fmt: skip
    if not common:
        problems.append(Problem(path, 0, "human", "no criterion is present in every record"))
    return common, problems


def check_lines(
    lines: Sequence[str], path: str, kind: str, criteria: Sequence[str] | None = None
) -> tuple[list[dict], list[str], list[Problem]]:
    """Validate the lines of a pairs or ratings file: (valid records, criteria used, every problem)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    check = check_pair if kind == "pairs" else rating_checker(criteria)
    records, problems = validate_jsonl(lines, path, check)
    used: list[str] = []
    if kind == "ratings":
        if criteria:
            used = list(criteria)
        else:
            used, found = common_criteria(records, path)
            problems += found
        # (when lines were refused, too few valid records is their consequence, not another problem)
        if 0 < len(records) < 2 and not errors_only(problems):
            problems.append(Problem(path, 0, "<file>", "a ratings file needs at least 2 records to rank"))
    return records, used, problems


def check_file(path: Path, kind: str, criteria: Sequence[str] | None = None) -> tuple[list[dict], list[Problem]]:
    """(valid records, problems) of one file: the shape `cqa meta-eval validate` and the tasks use."""
    records, _, problems = check_lines(read_text(Path(path)).splitlines(), str(path), kind, criteria)
    return records, problems


def normalize(record: dict, kind: str, criteria: Sequence[str]) -> dict:
    """The fields the tasks use, in a fixed shape (lang filled in, ratings as floats)."""
    out = {k: record[k] for k in TEXT_FIELDS[kind]}
    out["lang"] = record.get("lang", DEFAULT_LANG)
    if kind == "ratings":
        out["human"] = {c: float(record["human"][c]) for c in criteria}
    return out


def resolve(source: str | Path) -> Path:
    return resolve_file(source, data_dir(), "human-judged data file")


def load(source: str | Path, kind: str, criteria: Sequence[str] | None = None) -> tuple[list[dict], list[str], Path]:
    """(normalized records, criteria, resolved path); raises BenchDataError naming file:line:field."""
    path = resolve(source)
    records, used, problems = check_lines(read_text(path).splitlines(), str(path), kind, criteria)
    errors = errors_only(problems)
    if errors:
        raise HumanDataError(errors, kind)
    return [normalize(r, kind, used) for r in records], used, path
