"""Training recipes: small typed dataclasses read from YAML, with `key=value` overrides.

    cqa train cqa_cot                       # a shipped recipe by name (cqa_train/recipes/cqa_cot.yaml)
    cqa train my.yaml lora.rank=16 epochs=2 # a file, with dotted overrides

Every value is checked (type, range, choice; NaN and infinities refused) and every problem is
reported at once, naming the file or the override, before anything is loaded.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cqa_tasks.checks import InputError, Issue, real_problem, usage

VARIANTS = ("cot", "response_only", "plain")
DTYPES = ("float32", "bfloat16", "float16")


class RecipeError(InputError):
    """Every problem of a recipe, each naming where it came from: the YAML file, or the override as
    typed (`lora.rank=0`, a usage error: exit 2)."""


@dataclass
class LoraSpec:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"


@dataclass
class Recipe:
    name: str
    base_model: str  # an HF dir, or an embedded model name (smollm2, gemma3-270m, …)
    data: list[str]  # JSONL files (shipped names such as bc_protocol_v1.jsonl resolve too)
    variant: str = "cot"  # cot | response_only | plain (see cqa_train.annotations.to_sft)
    lora: LoraSpec = field(default_factory=LoraSpec)
    lr: float = 2e-4
    epochs: int = 3
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 1024
    seed: int = 0
    dtype: str = "float32"  # weights; bfloat16 halves memory and is ~2.5x faster on AVX512-BF16 CPUs
    save_every_epoch: bool = True
    chat_template: str = "auto"  # auto: use the tokenizer's template if it has one; "none": plain format
    output_dir: str | None = None  # default: $CQA_HOME/runs/<name>
    checkpoint_every_steps: int = 5  # resumable Trainer checkpoints between epoch exports
    max_steps: int = -1  # > 0 stops early (tests, smoke runs)
    limit: int | None = None  # first N records only (tests, smoke runs)
    subset: int | None = None  # N records sampled by language and kind (data-size ablations; nested per seed)
    warmup_ratio: float = 0.03
    logging_steps: int = 1
    device: str = "auto"  # auto | cpu | cuda
    notes: str = ""

    def resolved_output_dir(self) -> Path:
        if self.output_dir:
            return Path(self.output_dir).expanduser()
        from cqa_tasks.models import cqa_home

        return cqa_home() / "runs" / self.name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def recipes_dir() -> Path:
    return Path(__file__).parent / "recipes"


def shipped_recipes() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))


CHAT_TEMPLATES = ("auto", "none", "required")
DEVICES = ("auto", "cpu", "cuda")


# ------------------------------------------------------------------------------------- validation
# One rule per field: the value as read (YAML or an override) -> (the value to use, a problem or None).
# Messages read "<key> <problem>", after where the value came from.
Rule = Callable[[Any], tuple[Any, str | None]]


def _integer(low: int, high: int | None = None, null: bool = False, also: tuple[int, ...] = ()) -> Rule:
    def rule(value: Any) -> tuple[Any, str | None]:
        if value is None and null:
            return None, None
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            value = int(value)  # "2" from a quoted YAML value
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 2.0
        ok = isinstance(value, int) and not isinstance(value, bool) and (value in also or (
            value >= low and (high is None or value <= high)))
        if ok:
            return value, None
        if low == 1:
            want = "a positive integer" + (f" (at most {high})" if high else "")
        else:
            want = f"an integer in [{low}, {high}]" if high else f"an integer >= {low}"
        want += "".join(f" or {a}" for a in also) + (" or null" if null else "")
        return value, f"must be {want}, got {value!r}"

    return rule


def _real(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Rule:
    def rule(value: Any) -> tuple[Any, str | None]:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                return value, f"must be float (a finite number), got {value!r}"
        problem = real_problem(value, low, high, low_open, high_open)
        if problem and problem.startswith("must be a number"):
            problem = f"must be float (a finite number), got {value!r}"
        return (float(value) if problem is None else value), problem

    return rule


def _boolean(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return value, None
    if str(value).lower() in ("true", "false", "1", "0"):
        return str(value).lower() in ("true", "1"), None
    return value, f"must be true or false, got {value!r}"


def _choice(allowed: tuple[str, ...]) -> Rule:
    def rule(value: Any) -> tuple[Any, str | None]:
        return value, None if value in allowed else f"{value!r} is not one of {', '.join(allowed)}"

    return rule


def _text(null: bool = False, empty: bool = False, path_part: bool = False) -> Rule:
    def rule(value: Any) -> tuple[Any, str | None]:
        if value is None and null:
            return None, None
        if not isinstance(value, str) or (not empty and not value.strip()):
            return value, f"must be a {'' if empty else 'non-empty '}string{' or null' if null else ''}, got {value!r}"
        if path_part and (value in (".", "..") or "/" in value or "\\" in value or "\0" in value):
            return value, f"{value!r} is used as a directory name: no '/', '\\' or '..'"
        return value, None

    return rule


def _texts(value: Any) -> tuple[Any, str | None]:
    """One string or a list of them (data files, target modules)."""
    items = [value] if isinstance(value, str) else value
    if isinstance(items, list) and items and all(isinstance(v, str) and v.strip() for v in items):
        return value, None
    return value, f"must be a non-empty string or a list of them, got {value!r}"


RULES: dict[str, Rule] = {
    "name": _text(path_part=True), "base_model": _text(), "data": _texts, "variant": _choice(VARIANTS),
    "lr": _real(0, 1, low_open=True), "epochs": _integer(1, 10_000), "batch_size": _integer(1, 65_536),
    "grad_accum": _integer(1, 65_536), "max_length": _integer(1, 1_048_576), "seed": _integer(0, 2**32 - 1),
    "dtype": _choice(DTYPES), "save_every_epoch": _boolean, "chat_template": _choice(CHAT_TEMPLATES),
    "output_dir": _text(null=True), "checkpoint_every_steps": _integer(1), "max_steps": _integer(1, also=(-1,)),
    "limit": _integer(1, null=True), "subset": _integer(1, null=True), "warmup_ratio": _real(0, 1, high_open=True),
    "logging_steps": _integer(1), "device": _choice(DEVICES), "notes": _text(empty=True),
}  # fmt: skip
LORA_RULES: dict[str, Rule] = {
    "rank": _integer(1, 4096), "alpha": _integer(1, 1_000_000), "dropout": _real(0, 1, high_open=True),
    "target_modules": _texts,
}  # fmt: skip
REQUIRED = ("name", "base_model", "data")


@dataclass(frozen=True)
class Sources:
    """Where each value came from: the override that set it (a usage error if bad) or the file."""

    file: str
    overrides: dict[str, str] = field(default_factory=dict)  # dotted key -> the override as typed

    def issue(self, key: str, message: str) -> Issue:
        parts = key.split(".")
        for n in range(len(parts), 0, -1):  # `lora.rank` set by `lora={rank: 0}` is that override's
            typed = self.overrides.get(".".join(parts[:n]))
            if typed is not None:
                return usage(typed, message)
        return Issue(self.file, message)


def _checked(raw: dict, rules: dict[str, Rule], sources: Sources, prefix: str = "") -> tuple[dict, list[Issue]]:
    values, issues = {}, []
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in rules:
            allowed = ", ".join(sorted(rules))
            issues.append(sources.issue(dotted, f"unknown recipe key {dotted!r} (allowed: {allowed})"))
            continue
        values[key], problem = rules[key](value)
        if problem:
            issues.append(sources.issue(dotted, f"{dotted} {problem}"))
    return values, issues


def validate(raw: Any, sources: Sources) -> tuple[Recipe | None, list[Issue]]:
    """The recipe, or every problem of it (types, ranges, choices, unknown and missing keys); pure."""
    if not isinstance(raw, dict):
        return None, [Issue(sources.file, f"a recipe is a YAML mapping, got {type(raw).__name__}")]
    issues = [Issue(sources.file, f"missing required key {k!r}") for k in REQUIRED if k not in raw]
    lora_raw = raw.get("lora") if raw.get("lora") is not None else {}
    values, found = _checked({k: v for k, v in raw.items() if k != "lora"}, RULES | {"lora": None}, sources)
    issues += found
    if not isinstance(lora_raw, dict):
        issues.append(sources.issue("lora", f"'lora' must be a mapping, got {lora_raw!r}"))
        lora_raw = {}
    lora, found = _checked(lora_raw, LORA_RULES, sources, "lora.")
    issues += found
    if issues:
        return None, issues
    if isinstance(values["data"], str):
        values["data"] = [values["data"]]
    return Recipe(**values, lora=LoraSpec(**lora)), []


def build(raw: Any, source: str = "<recipe>") -> Recipe:
    recipe, issues = validate(raw, Sources(source))
    if issues:
        raise RecipeError(issues)
    return recipe


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text) if text != "" else ""


def apply_overrides(raw: dict, overrides: list[str], source: str) -> tuple[dict, Sources, list[Issue]]:
    """`raw` with `key=value` overrides applied (dotted keys for nested values), where each value
    came from, and the overrides that are not key=value at all."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    typed: dict[str, str] = {}
    issues: list[Issue] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            issues.append(usage(item, f"override {item!r} is not key=value"))
            continue
        try:
            parsed = _parse_value(value)
        except yaml.YAMLError as e:
            issues.append(usage(item, f"{key}: value is not valid YAML ({getattr(e, 'problem', None) or e})"))
            continue
        parts = key.split(".")
        target = out
        for p in parts[:-1]:
            target = target.setdefault(p, {})
            if not isinstance(target, dict):
                issues.append(usage(item, f"override {item!r}: {p!r} is not a mapping"))
                break
        else:
            target[parts[-1]] = parsed
            typed[key] = item
    return out, Sources(source, typed), issues


def read_yaml(path: Path) -> Any:
    """A recipe file's YAML (with $VARS expanded), or RecipeError naming the file and line."""
    from cqa_tasks.checks import MAX_CONFIG_BYTES, read_text

    text = read_text(path, max_bytes=MAX_CONFIG_BYTES)
    try:
        return yaml.safe_load(os.path.expandvars(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RecipeError([Issue(str(path), f"not valid YAML ({getattr(e, 'problem', None) or e})", line=line)]) from None


def find(spec: str) -> Path:
    """A recipe given as a YAML path or a shipped recipe's name."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.exists():
        raise RecipeError([Issue(spec, "is a directory, not a recipe file" if path.is_dir() else "is not a regular file")])
    shipped = recipes_dir() / f"{spec}.yaml"
    if spec and "/" not in spec and shipped.is_file():
        return shipped
    raise RecipeError(f"recipe {spec!r} not found (a YAML path, or one of: {', '.join(shipped_recipes())})")


def load(spec: str, overrides: list[str] | None = None) -> Recipe:
    """A recipe from a YAML path or a shipped recipe name, with `key=value` overrides applied.
    Every problem (of the file and of the overrides) is raised together, before anything is loaded."""
    path = find(spec)
    raw = read_yaml(path)
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise RecipeError([Issue(str(path), f"a recipe is a YAML mapping, got {type(raw).__name__}")])
    raw, sources, issues = apply_overrides(raw, overrides or [], str(path))
    recipe, found = validate(raw, sources)
    if issues or found:
        raise RecipeError(issues + found)
    return recipe
