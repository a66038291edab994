"""CQA-Bench item schema (task_configs/DATACARD.md) and its validator.

Pure functions over lines of text, so the same checks serve `cqa bench validate`, the lm-eval
tasks (which refuse bad data before any scoring) and the tests. Every problem is reported as
`file:line: field: message`, one line each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cqa_tasks.checks import InputError, parse_json, shape_problems
from cqa_tasks.metric import has_cjk

GROUPS = ("literary", "factual")
LANGS = ("en", "zh")
DIMENSIONS = ("ethos", "mythos", "lexis", "dianoia")
CONSTRAINT_SOURCES = ("intent", "audience", "reality")
# The lm-eval task family of each group. The literary group's tasks are `cqa_creative_*`: that name
# is the plugin's public interface (`--tasks cqa_creative`); data, tables and reports say "literary".
TASK_OF_GROUP = {"literary": "cqa_creative", "factual": "cqa_factual"}
GROUP_OF_TASK_PREFIX = {task.removeprefix("cqa_"): group for group, task in TASK_OF_GROUP.items()}
N_LEAF_TASKS = len(GROUPS) * len(LANGS) * len(DIMENSIONS)  # one per group x language x dimension
REQUIRED_FIELDS = (
    "id",
    "group",
    "lang",
    "dimension",
    "constraint_source",
    "constraints",
    "original",
    "degraded",
    "degradation",
    "author",
    "version",
)
OPTIONAL_FIELDS = ("genre",)
ENUMS = {
    "group": GROUPS,
    "lang": LANGS,
    "dimension": DIMENSIONS,
    "constraint_source": CONSTRAINT_SOURCES,
}
MAX_LENGTH_CHANGE = 0.15  # the twin keeps its original's length within +-15 % (characters)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    field: str
    message: str
    severity: str = "error"  # "error": the schema is broken; "warning": a construction rule is

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}: {self.field}: {tag}{self.message}"


class BenchDataError(InputError):
    """Raised when a CQA-Bench file breaks the schema. The message (one line) names file:line:field;
    `problems` (= `issues`) lists them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more problems; run `cqa bench validate` to list them)"
        super().__init__(problems, str(problems[0]) + (more if len(problems) > 1 else ""))


def _check_record(obj: object, path: str, line: int) -> list[Problem]:
    def err(field: str, message: str, severity: str = "error") -> Problem:
        return Problem(path, line, field, message, severity)

    if not isinstance(obj, dict):
        return [err("<record>", f"expected a JSON object, got {type(obj).__name__}")]
    problems = [err(f, "missing required field") for f in REQUIRED_FIELDS if f not in obj]
    for field in ("id", "original", "degraded", "degradation", "author", "version", *ENUMS):
        if field in obj and (not isinstance(obj[field], str) or not obj[field].strip()):
            problems.append(err(field, "must be a non-empty string"))
    for field, allowed in ENUMS.items():
        value = obj.get(field)
        if isinstance(value, str) and value.strip() and value not in allowed:
            problems.append(err(field, f"{value!r} is not one of {', '.join(allowed)}"))
    if "genre" in obj and not isinstance(obj["genre"], str):
        problems.append(err("genre", "must be a string"))
    constraints = obj.get("constraints")
    if "constraints" in obj:
        if not isinstance(constraints, dict):
            problems.append(err("constraints", "must be an object with keys intent, audience, reality"))
        else:
            for key in CONSTRAINT_SOURCES:
                value = constraints.get(key)
                if not isinstance(value, str) or not value.strip():
                    problems.append(err(f"constraints.{key}", "must be a non-empty string"))
            for key in constraints:
                if key not in CONSTRAINT_SOURCES:
                    problems.append(err(f"constraints.{key}", "unknown constraint (allowed: intent, audience, reality)"))
    if problems:
        return problems
    # Construction rules (task_configs/DATACARD.md): warnings, errors under --strict.
    original, degraded = obj["original"], obj["degraded"]
    if original.strip() == degraded.strip():
        problems.append(err("degraded", "identical to original"))
    ratio = len(degraded) / len(original)
    if abs(ratio - 1) > MAX_LENGTH_CHANGE:
        problems.append(err("degraded", f"length is {ratio:.2f}x the original's (rule: within +-15 %)", "warning"))
    if obj["lang"] == "zh":
        for field in ("original", "degraded"):
            if not has_cjk(obj[field]):
                problems.append(err(field, "lang is zh but the text has no CJK characters", "warning"))
    return problems


def validate_jsonl(
    lines: Iterable[str], path: str, check: Callable[[object, str, int], list[Problem]]
) -> tuple[list[dict], list[Problem]]:
    """Parse JSONL lines and check each record with `check(obj, path, line)`; ids must be unique.

    Returns the valid records and every problem found. Shared by the bench and training-data validators.
    """
    records: list[dict] = []
    problems: list[Problem] = []
    first_line_of_id: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = parse_json(raw)
        except json.JSONDecodeError as e:
            problems.append(Problem(path, number, "<json>", f"not valid JSON ({e.msg} at column {e.colno})"))
            continue
        except ValueError as e:  # NaN/Infinity, nesting too deep
            problems.append(Problem(path, number, "<json>", str(e)))
            continue
        # what no schema can take (too deep, too long, not Unicode), before the schema's own checks
        found = [Problem(path, number, field, message) for field, message in shape_problems(obj)]
        found = found or check(obj, path, number)
        problems.extend(found)
        if any(p.severity == "error" for p in found):
            continue
        rid = obj.get("id")
        if rid is not None:
            if rid in first_line_of_id:
                problems.append(Problem(path, number, "id", f"duplicate id {rid!r} (first on line {first_line_of_id[rid]})"))
                continue
            first_line_of_id[rid] = number
        records.append(obj)
    if not records and not problems:
        problems.append(Problem(path, 0, "<file>", "no records"))
    return records, problems


def validate_lines(lines: Iterable[str], path: str = "<data>") -> tuple[list[dict], list[Problem]]:
    """Parse and check CQA-Bench JSONL lines. Returns the valid records and every problem found."""
    return validate_jsonl(lines, path, _check_record)


def report_problems(files: list[str], check: Callable, strict: bool = False) -> int:
    """Print every problem of every file as `file:line: field: message`; exit status 1 on any error.

    `check(path)` returns (valid records, problems); shared by `bench validate` and `train validate`.
    """
    import sys
    from pathlib import Path

    n_errors = n_records = 0
    for name in files:
        try:
            records, problems = check(Path(name))
        except InputError as e:  # not found, a directory, unreadable, too big, not UTF-8
            records, problems = [], e.issues
        n_records += len(records)
        for p in problems:
            print(p)
            n_errors += getattr(p, "severity", "error") == "error" or strict
    verdict = "FAILED" if n_errors else "OK"
    print(f"{verdict}: {n_records} valid records in {len(files)} file(s), {n_errors} error(s)", file=sys.stderr)
    return 1 if n_errors else 0


def errors_only(problems: list[Problem], strict: bool = False) -> list[Problem]:
    return [p for p in problems if strict or p.severity == "error"]


def normalize(record: dict) -> dict:
    """The fields the tasks use, in a fixed shape (extra user fields are dropped)."""
    out = {k: record[k] for k in REQUIRED_FIELDS}
    out["constraints"] = {k: record["constraints"][k] for k in CONSTRAINT_SOURCES}
    out["genre"] = record.get("genre", "")
    return out
