"""Converters from published human-judgment files to the JSONL shapes of cqa_human_pairs / _ratings.

    hanna   HANNA's annotation file (Chhun et al., 2022): one row per rater and story, columns
            "Story ID", "Prompt", "Story", "Model" and the six criteria (Relevance, Coherence, Empathy,
            Surprise, Engagement, Complexity); a story's raters are averaged.
    --map   any pairs or ratings file whose fields have other names: target=source, e.g.
            `chosen=response_a,rejected=response_b,prompt=meta.question` (dotted: nested objects).

Input is CSV (with a header), a JSON array of row objects, a JSON object of columns ({column:
{row: value}}, as pandas writes it), or JSON Lines. Nothing is written unless every row converts
and every record passes the tasks' own validation; each problem is one `file:line: field: message`
(for JSON arrays and columns, `line` is the row's position, 1-based).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cqa_tasks.human_data import TEXT_FIELDS, check_pair, rating_checker
from cqa_tasks.schema import Problem

HANNA_CRITERIA = ("relevance", "coherence", "empathy", "surprise", "engagement", "complexity")
HANNA_COLUMNS = {"story id": "story_id", "prompt": "prompt", "story": "story", "model": "model"}

Row = tuple[int, dict[str, Any]]  # (line or position, the row's fields)


# ------------------------------------------------------------------------------ reading rows


def read_rows(path: Path) -> list[Row]:
    """The rows of a CSV, JSON or JSON Lines file, each with the line (or position) it starts at."""
    text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not part of the first column name
    stripped = text.lstrip()
    if path.suffix.lower() == ".csv" or not stripped.startswith(("[", "{")):
        return list(_csv_rows(text))
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _jsonl_rows(text, path)
    if isinstance(data, list):
        return [(k, row) for k, row in enumerate(data, start=1)]
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        index = list(dict.fromkeys(key for column in data.values() for key in column))
        return [(k, {col: data[col].get(key) for col in data}) for k, key in enumerate(index, start=1)]
    return [(1, data)]


def _csv_rows(text: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    start = reader.line_num + 2  # the header is line 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1  # quoted stories span lines: the next row starts after this one ends


def _jsonl_rows(text: str, path: Path) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as e:
                rows.append((number, Problem(str(path), number, "<json>", f"not valid JSON ({e.msg} at column {e.colno})")))
    return rows


# ------------------------------------------------------------------------------ HANNA


def _column_key(name: str) -> str:
    """`Relevance (RE)` -> `relevance`; `Story ID` -> `story id`."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", str(name)).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _as_number(value: Any) -> Any:
    number = _number(value) if isinstance(value, str) else None
    return value if number is None else number


def convert_hanna(rows: Sequence[Row], path: str) -> tuple[list[dict], list[Problem]]:
    """Ratings records, one per story (the mean of its raters per criterion), and every problem."""
    stories: dict[int, dict] = {}
    problems: list[Problem] = []
    for line, raw in rows:
        if isinstance(raw, Problem):
            problems.append(raw)
            continue
        if not isinstance(raw, Mapping):
            problems.append(Problem(path, line, "<row>", f"expected a row of named columns, got {type(raw).__name__}"))
            continue
        row = {_column_key(k): v for k, v in raw.items() if k is not None}
        missing = [c for c in ("story id", "prompt", "story") if c not in row]
        criteria = [c for c in HANNA_CRITERIA if c in row]
        if missing or not criteria:
            names = missing + ([] if criteria else ["a criterion (" + ", ".join(HANNA_CRITERIA) + ")"])
            return [], [Problem(path, line, "<columns>", "not a HANNA annotation file: no column " + ", ".join(names))]
        story_id = _number(row["story id"])
        if story_id is None or story_id != int(story_id):
            problems.append(Problem(path, line, "Story ID", f"must be an integer, got {row['story id']!r}"))
            continue
        scores = {c: _number(row[c]) for c in criteria}
        bad = [c for c, v in scores.items() if v is None]
        problems += [Problem(path, line, c.capitalize(), f"must be a number, got {row[c]!r}") for c in bad]
        if bad:
            continue
        story = stories.setdefault(int(story_id), {"line": line, "row": row, "raters": {c: [] for c in criteria}})
        for field in ("prompt", "story", "model"):
            if str(row.get(field, "")).strip() != str(story["row"].get(field, "")).strip():
                problems.append(Problem(path, line, field.capitalize(),
                                        f"differs from story {int(story_id)}'s first row (line {story['line']})"))  # fmt: skip
        for c in criteria:
            story["raters"].setdefault(c, []).append(scores[c])
    if not rows:
        problems.append(Problem(path, 0, "<file>", "no rows"))
    records = []
    for story_id in sorted(stories):
        s = stories[story_id]
        human = {c: math.fsum(v) / len(v) for c, v in s["raters"].items()}
        meta = {"model": str(s["row"].get("model", "")), "story_id": story_id, "n_raters": len(next(iter(s["raters"].values()))),
                "raters": s["raters"]}  # fmt: skip
        record = {"id": f"hanna-{story_id}", "source": "hanna", "prompt": str(s["row"]["prompt"]),
                  "text": str(s["row"]["story"]), "human": human, "meta": meta}  # fmt: skip
        problems += rating_checker()(record, path, s["line"])
        records.append(record)
    return records, problems


# ------------------------------------------------------------------------------ --map


def parse_map(text: str, kind: str) -> dict[str, str]:
    """`chosen=a,rejected=b` -> {"chosen": "a", "rejected": "b"}; ratings also take `human.<criterion>=field`."""
    targets = (*TEXT_FIELDS[kind], "lang")
    mapping = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        target, sep, source = part.partition("=")
        target, source = target.strip(), source.strip()
        ok = target in targets or (kind == "ratings" and target.startswith("human.") and len(target) > 6)
        if not sep or not source or not ok:
            allowed = ", ".join(targets) + (", human.<criterion>" if kind == "ratings" else "")
            raise ValueError(f"--map: {part!r} is not target=source with a target among {allowed}")
        mapping[target] = source
    return mapping


def _lookup(row: Mapping, dotted: str) -> Any:
    value: Any = row
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None if dotted not in row else row[dotted]
        value = value[key]
    return value


def convert_mapped(rows: Sequence[Row], path: str, kind: str, mapping: Mapping[str, str]) -> tuple[list[dict], list[Problem]]:
    """Records of `kind` from rows whose fields `mapping` names (target -> source); unmapped targets
    are read from a field of their own name. Rows without an id get `<file stem>-<line>`."""
    stem = Path(path).stem
    records, problems = [], []
    first_line_of_id: dict[str, int] = {}
    check = check_pair if kind == "pairs" else rating_checker()
    for line, raw in rows:
        if isinstance(raw, Problem) or not isinstance(raw, Mapping):
            problems.append(raw if isinstance(raw, Problem) else Problem(path, line, "<row>", "expected an object"))
            continue
        record: dict[str, Any] = {}
        for target in (*TEXT_FIELDS[kind], "lang"):
            value = _lookup(raw, mapping.get(target, target))
            if value is not None:
                record[target] = str(value) if target == "id" and isinstance(value, int) else value
        record.setdefault("id", f"{stem}-{line}")
        if kind == "ratings":
            # a CSV cell is text: "4.5" is the number 4.5; anything else stays as it is for validation to name
            human = {t[len("human."):]: _as_number(_lookup(raw, s)) for t, s in mapping.items() if t.startswith("human.")}
            record["human"] = human or _lookup(raw, "human")
        found = check(record, path, line)
        problems += [_name_source(p, mapping) for p in found]
        rid = record["id"]
        if isinstance(rid, str) and rid in first_line_of_id:
            duplicate = Problem(path, line, "id", f"duplicate id {rid!r} (first on line {first_line_of_id[rid]})")
            problems.append(_name_source(duplicate, mapping))
        elif isinstance(rid, str):
            first_line_of_id[rid] = line
        records.append(record)
    if not rows:
        problems.append(Problem(path, 0, "<file>", "no rows"))
    return records, problems


def _name_source(problem: Problem, mapping: Mapping[str, str]) -> Problem:
    """A problem with a mapped field names the source field too: `chosen (from response_a)`."""
    source = mapping.get(problem.field)
    if source is None:
        return problem
    return Problem(problem.path, problem.line, f"{problem.field} (from {source})", problem.message, problem.severity)


def write_jsonl(records: Sequence[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
