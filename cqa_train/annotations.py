"""Training data: BC-Protocol annotations (cqa_train/data/DATACARD.md), LIMA-style and plain SFT pairs.

Validators report `file:line: field: message`. The response-only ablation is derived here, in code,
from the BC records (same tasks and responses, reasoning removed), so it is never stored twice.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cqa_tasks.checks import InputError, read_text
from cqa_tasks.schema import DIMENSIONS, LANGS, Problem, validate_jsonl

KINDS = ("appreciation", "generation")
ASPECTS = ("intent", "audience", "reality", "craft")
LIMA_CATEGORIES = ("general", "explanation", "advice", "creative")
BC_FIELDS = ("id", "lang", "kind", "task", "dialogue_roles", "reasoning", "response")


class AnnotationError(InputError):
    """A training-data file that breaks its schema; `problems` lists every `file:line: field: message`."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(problems)


def data_dir() -> Path:
    return Path(__file__).parent / "data"


BC_FILE = "bc_protocol_v1.jsonl"
LIMA_FILE = "lima_style_v1.jsonl"


def detect_format(obj: dict) -> str:
    """'bc' (tagged reasoning), 'sft' (prompt/response, e.g. the LIMA-style set)."""
    if "reasoning" in obj or "dialogue_roles" in obj:
        return "bc"
    return "sft"


def _text(obj: dict, field: str, err) -> list[Problem]:
    v = obj.get(field)
    if field not in obj:
        return [err(field, "missing required field")]
    if not isinstance(v, str) or not v.strip():
        return [err(field, "must be a non-empty string")]
    return []


def _check_bc(obj: dict, err) -> list[Problem]:
    problems: list[Problem] = []
    for field in ("id", "task", "response"):
        problems += _text(obj, field, err)
    for field, allowed in (("lang", LANGS), ("kind", KINDS)):
        problems += _text(obj, field, err)
        if isinstance(obj.get(field), str) and obj[field].strip() and obj[field] not in allowed:
            problems.append(err(field, f"{obj[field]!r} is not one of {', '.join(allowed)}"))
    roles = obj.get("dialogue_roles")
    if not isinstance(roles, dict) or not all(isinstance(roles.get(k), str) and roles[k].strip() for k in ("expert", "engineer")):
        problems.append(err("dialogue_roles", "must be an object with non-empty 'expert' and 'engineer'"))
    steps = obj.get("reasoning")
    if not isinstance(steps, list) or not steps:
        problems.append(err("reasoning", "must be a non-empty list of steps"))
        return problems
    for k, step in enumerate(steps):
        where = f"reasoning[{k}]"
        if not isinstance(step, dict):
            problems.append(err(where, "must be an object"))
            continue
        if step.get("aspect") not in ASPECTS:
            problems.append(err(f"{where}.aspect", f"{step.get('aspect')!r} is not one of {', '.join(ASPECTS)}"))
        if step.get("dimension") not in DIMENSIONS:
            problems.append(err(f"{where}.dimension", f"{step.get('dimension')!r} is not one of {', '.join(DIMENSIONS)}"))
        if not isinstance(step.get("thought"), str) or not step["thought"].strip():
            problems.append(err(f"{where}.thought", "must be a non-empty string"))
    return problems


def _check_sft(obj: dict, err) -> list[Problem]:
    problems = _text(obj, "prompt", err) + _text(obj, "response", err)
    if "category" in obj and obj["category"] not in LIMA_CATEGORIES:
        problems.append(err("category", f"{obj['category']!r} is not one of {', '.join(LIMA_CATEGORIES)}"))
    if "lang" in obj and obj["lang"] not in LANGS:
        problems.append(err("lang", f"{obj['lang']!r} is not one of {', '.join(LANGS)}"))
    return problems


def validate_lines(lines: Iterable[str], path: str = "<data>", expect: str | None = None) -> tuple[list[dict], list[Problem]]:
    """Parse and check JSONL training records; `expect` forces 'bc' or 'sft' (else detected per line)."""

    def check(obj: object, path: str, number: int) -> list[Problem]:
        def err(field: str, message: str) -> Problem:
            return Problem(path, number, field, message)

        if not isinstance(obj, dict):
            return [err("<record>", "expected a JSON object")]
        kind = expect or detect_format(obj)
        return _check_bc(obj, err) if kind == "bc" else _check_sft(obj, err)

    return validate_jsonl(lines, path, check)


def resolve(path: str | Path) -> Path:
    from cqa_tasks.data import resolve_file

    return resolve_file(path, data_dir(), "training data file")


def check_file(path: Path, expect: str | None = None) -> tuple[list[dict], list[Problem]]:
    """Records and problems of one file; InputError when it cannot be read as UTF-8 text at all."""
    return validate_lines(read_text(path).splitlines(), str(path), expect)


def load(path: str | Path, expect: str | None = None) -> list[dict]:
    p = resolve(path)
    records, problems = check_file(p, expect)
    if problems:
        raise AnnotationError(problems)
    return records


@dataclass(frozen=True)
class SFTExample:
    """One supervised example: the prompt (masked from the loss) and the target response."""

    id: str
    lang: str
    prompt: str
    response: str


REASONING_HEADER = {"en": "Reasoning:", "zh": "思考："}
ANSWER_HEADER = {"en": "Answer:", "zh": "回答："}


def render_reasoning(record: dict) -> str:
    lang = record.get("lang", "en")
    sep = "：" if lang == "zh" else ": "
    lines = [REASONING_HEADER[lang]]
    for step in record["reasoning"]:
        lines.append(f"- [{step['aspect']}{sep.strip()}{step['dimension']}] {step['thought'].strip()}")
    return "\n".join(lines)


def to_sft(record: dict, variant: str) -> SFTExample:
    """`cot`: reasoning then answer (the CQA recipe); `response_only`: the same answer without the
    reasoning (the ablation); `plain`: prompt/response records (LIMA-style) as they are."""
    lang = record.get("lang", "en")
    if variant == "plain" or "reasoning" not in record:
        return SFTExample(record.get("id", ""), lang, record.get("prompt", record.get("task", "")), record["response"])
    if variant == "response_only":
        return SFTExample(record["id"], lang, record["task"], record["response"])
    if variant == "cot":
        body = render_reasoning(record) + "\n\n" + ANSWER_HEADER[lang] + "\n" + record["response"].strip()
        return SFTExample(record["id"], lang, record["task"], body)
    raise ValueError(f"unknown SFT variant {variant!r} (cot, response_only, plain)")


def stratum(record: dict) -> tuple[str, str]:
    """The stratum a record is sampled in: (lang, kind) for BC records, (lang, category) for SFT pairs."""
    return str(record.get("lang", "")), str(record.get("kind", record.get("category", "")))


def stratified_indices(records: list[dict], n: int, seed: int = 0) -> list[int]:
    """Indices (in file order) of n records that keep each stratum's share of the whole to within one.

    For a data-size ablation the first n records will not do: the shipped files are grouped by
    language and kind. Each stratum is shuffled once (by `seed`) and its j-th record gets the
    position (j + 0.5) / stratum size; the n lowest positions are taken. So for one seed the
    subsets are nested (the 25 are among the 50), and the larger set only adds records."""
    if n < 1:
        raise ValueError(f"subset size must be a positive integer, got {n}")
    if n >= len(records):
        return list(range(len(records)))
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        strata[stratum(record)].append(i)
    rng = random.Random(seed)
    ranked = []
    for key in sorted(strata):
        members = strata[key][:]
        rng.shuffle(members)
        ranked += [((j + 0.5) / len(members), key, i) for j, i in enumerate(members)]
    return sorted(i for _, _, i in sorted(ranked)[:n])
