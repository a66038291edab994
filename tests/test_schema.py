"""Bad data gets one precise line naming file:line:field, from the validator CLI and from the task."""

import json
import subprocess
import sys

import pytest

from cqa_tasks.cli import main as cqa_main
from cqa_tasks.schema import BenchDataError, validate_lines


def _lines(records):
    return [json.dumps(r, ensure_ascii=False) for r in records]


def _broken(mini_records, case):
    """Return (lines, line_number, field, words expected in the message) for one kind of breakage."""
    recs = [dict(r) for r in mini_records]
    if case == "missing_field":
        del recs[1]["degraded"]
        return _lines(recs), 2, "degraded", "missing required field"
    if case == "wrong_enum":
        recs[2]["dimension"] = "pathos"
        return _lines(recs), 3, "dimension", "'pathos' is not one of"
    if case == "empty_passage":
        recs[0]["original"] = "   "
        return _lines(recs), 1, "original", "non-empty string"
    if case == "duplicate_id":
        recs[3]["id"] = recs[0]["id"]
        return _lines(recs), 4, "id", "duplicate id"
    if case == "broken_json":
        lines = _lines(recs)
        lines[2] = lines[2][:-5]
        return lines, 3, "<json>", "not valid JSON"
    if case == "missing_constraint":
        del recs[1]["constraints"]["reality"]
        return _lines(recs), 2, "constraints.reality", "non-empty string"
    raise AssertionError(case)


CASES = ["missing_field", "wrong_enum", "empty_passage", "duplicate_id", "broken_json", "missing_constraint"]


def test_mini_fixture_is_valid(mini_path):
    records, problems = validate_lines(mini_path.read_text().splitlines(), "mini.jsonl")
    assert len(records) == 4 and problems == []


@pytest.mark.parametrize("case", CASES)
def test_validator_names_file_line_field(mini_records, case):
    lines, line, field, words = _broken(mini_records, case)
    _, problems = validate_lines(lines, "bad.jsonl")
    assert len(problems) == 1, problems
    text = str(problems[0])
    assert text.startswith(f"bad.jsonl:{line}: {field}: "), text
    assert words in text
    assert "\n" not in text


@pytest.mark.parametrize("case", CASES)
def test_cli_validate_reports_and_fails(mini_records, tmp_path, capsys, case):
    lines, line, field, words = _broken(mini_records, case)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cqa_main(["bench", "validate", str(bad)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [next(o for o in out if o.startswith(f"{bad}:{line}: {field}: "))]
    assert words in out[0]


def test_cli_validate_ok_exit_zero(mini_path):
    assert cqa_main(["bench", "validate", str(mini_path)]) == 0


def test_cli_validate_as_console_script(mini_records, tmp_path):
    lines, *_ = _broken(mini_records, "wrong_enum")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "cqa_tasks.cli", "bench", "validate", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert f"{bad}:3: dimension:" in proc.stdout


def test_length_rule_is_a_warning_unless_strict(mini_records, tmp_path):
    recs = [dict(r) for r in mini_records]
    recs[0]["degraded"] = recs[0]["degraded"] + " And then, at great length, a great deal more happened that nobody needed to hear about."
    f = tmp_path / "long.jsonl"
    f.write_text("\n".join(_lines(recs)), encoding="utf-8")
    assert cqa_main(["bench", "validate", str(f)]) == 0
    assert cqa_main(["bench", "validate", "--strict", str(f)]) == 1


@pytest.mark.parametrize("case", CASES)
def test_task_refuses_bad_data_with_same_message(mini_records, tmp_path, case):
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    lines, line, field, words = _broken(mini_records, case)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(bad)})
    with pytest.raises(BenchDataError) as err:
        tm.load(["cqa_custom"])
    assert str(err.value).startswith(f"{bad}:{line}: {field}: ")
    assert words in str(err.value)


def test_custom_task_without_data_says_how(task_manager):
    with pytest.raises(ValueError, match="--metadata"):
        task_manager.load(["cqa_custom"])
