"""Issue 16: every bad or hostile input gets one clear line and leaves nothing behind.

The corpus (tests/hostile_corpus.py) feeds bad files, bad options and Ctrl-C to every `cqa` subcommand,
in-process (cqa_tasks.cli.main); the lm-eval tasks get bad data files and --limit 0/-1. Each case
checks: the exit code (2 usage, 1 bad data, 130 interrupted), that the message names the file or
option, that there is no traceback, and that nothing was written (the fixture dir, $CQA_HOME and the
working directory are unchanged to the byte and the timestamp). A few cases run end to end as
subprocesses. No model is loaded: every case fails before that point, which is the point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cqa_tasks.cli import main
from tests.hostile_corpus import FILE_CASES, INTERRUPT_CASES, Case, build_fixtures

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    return build_fixtures(tmp_path_factory.mktemp("hostile") / "f")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path below root with its size and modification time (a FIFO is listed, never opened)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size, st.st_mtime_ns)
    return out


def run_case(c: Case, fixtures: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setenv("CQA_HOME", str(fixtures / "home"))
    monkeypatch.chdir(fixtures)  # a default output path (cqa_compare/, cqa_tokens.html) would land here
    if c.patch is not None:
        c.patch(monkeypatch)
    before = snapshot(fixtures)
    code = main([a.replace("{f}", str(fixtures)) for a in c.argv])
    monkeypatch.undo()
    out, err = capsys.readouterr()
    assert snapshot(fixtures) == before, f"{c.id}: something was written"
    return code, out, err


@pytest.mark.parametrize("c", FILE_CASES + INTERRUPT_CASES, ids=lambda c: c.id)
def test_hostile_input_is_one_clear_line_and_nothing_written(c: Case, fixtures, monkeypatch, capsys):
    code, out, err = run_case(c, fixtures, monkeypatch, capsys)
    assert code == c.code, f"{c.id}: exit {code}, want {c.code}\n{err}"
    assert "Traceback" not in err and "Traceback" not in out
    text = (out + err).replace(str(fixtures) + "/", "")
    for name in c.names:
        assert name.replace("{f}/", "") in text, f"{c.id}: {name!r} not in\n{text}"
    lines = errors_only(err)
    if c.code == 130:
        assert lines[-1].endswith(": interrupted")
    elif out and c.argv[1:2] == ["validate"]:  # the validators' report is on stdout, a summary on stderr
        assert lines[0].startswith("FAILED")
    else:
        assert lines and all(line.startswith("cqa") and ": error: " in line for line in lines), err


def errors_only(err: str) -> list[str]:
    """stderr without warnings (e.g. a subcommand an installed package registers but lacks)."""
    return [line for line in err.strip().splitlines() if not line.startswith("cqa: warning: ")]


def test_the_corpus_is_large_and_covers_every_subcommand():
    from cqa_tasks.cli import build_parser

    cases = FILE_CASES + INTERRUPT_CASES + TASK_CASES
    assert len(cases) >= 60
    covered = {c.argv[0] for c in FILE_CASES + INTERRUPT_CASES if c.argv} | {"lm_eval"}
    commands = set(build_parser()._subparsers._group_actions[0].choices) - {"tasks-path"}  # tasks-path reads nothing
    assert commands <= covered, commands - covered
    for sub in ("validate", "stats", "audit"):
        assert any(c.argv[:2] == ["bench", sub] for c in cases), sub
    for sub in ("validate", "coverage", "run"):
        assert any(c.argv[:1] == ["train"] and (sub == "run" or c.argv[1] == sub) for c in cases), sub


# ------------------------------------------------------------------------------------ the lm-eval tasks
TASK_CASES = [
    Case("task-not-utf8", ["cqa_custom", "bad_utf8.jsonl"], 1, ["bad_utf8.jsonl:1: <encoding>: not valid UTF-8"]),
    Case("task-bad-record", ["cqa_custom", "bad_record.jsonl"], 1, ["bad_record.jsonl:1: dimension:"]),
    Case("task-lone-surrogate", ["cqa_custom", "surrogate.jsonl"], 1, ["surrogate.jsonl:1: constraints.intent: contains a lone surrogate"]),
    Case("task-deep", ["cqa_custom", "deep.jsonl"], 1, ["deep.jsonl:1: <json>: nested too deeply"]),
    Case("task-directory", ["cqa_custom", "a_dir"], 1, ["a_dir: CQA data file is a directory"]),
    Case("task-missing", ["cqa_custom", "nothere.jsonl"], 1, ["CQA data file not found: ", "nothere.jsonl"]),
    Case("task-empty", ["cqa_custom", "empty.jsonl"], 1, ["empty.jsonl:0: <file>: no records"]),
    Case("bench-leaf-not-utf8", ["cqa_creative_en_lexis", "bad_utf8.jsonl"], 1, ["bad_utf8.jsonl:1: <encoding>"]),
    Case("match-not-utf8", ["cqa_match", "bad_utf8.jsonl"], 1, ["bad_utf8.jsonl:1: <encoding>"]),
]


@pytest.mark.parametrize("c", TASK_CASES, ids=lambda c: c.id)
def test_task_refuses_bad_data_in_one_line_naming_the_file(c: Case, fixtures, monkeypatch):
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    task, name = c.argv
    monkeypatch.chdir(fixtures)
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(fixtures / name)})
    with pytest.raises(ValueError) as err:  # what lm-eval prints as the last line of its report
        tm.load([task])
    message = str(err.value)
    assert "\n" not in message
    for expected in c.names:
        assert expected in message.replace(str(fixtures) + "/", "")


@pytest.mark.parametrize("limit", [0, -1, -4])
def test_task_refuses_a_limit_that_leaves_no_items(limit, mini_path):
    """lm-eval turns --limit 0 into 0 items and --limit -1 into -n; both are refused before any request."""
    from lm_eval.tasks import TaskManager, get_task_dict

    from cqa_tasks.data import task_dir

    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(mini_path)})
    task = get_task_dict(["cqa_custom"], tm)["cqa_custom"]
    with pytest.raises(ValueError, match=rf"mini.jsonl: --limit leaves {limit} items for task cqa_custom"):
        task.build_all_requests(limit=limit)


# ---------------------------------------------------------------------------- end to end (subprocesses)
def _cqa(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cqa_tasks.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=os.environ | env, timeout=300)


def test_refused_train_leaves_nothing_and_the_corrected_command_is_checked_fresh(fixtures, tmp_path):
    run = tmp_path / "run"
    refused = _cqa("train", "cqa_cot", "lora.rank=0", f"output_dir={run}", cwd=tmp_path, CQA_HOME=str(tmp_path / "home"))
    assert refused.returncode == 2, refused.stderr
    assert errors_only(refused.stderr) == ["cqa train: error: lora.rank=0: lora.rank must be a positive integer (at most 4096), got 0"]
    assert not run.exists() and not (tmp_path / "home").exists()


def test_compare_to_an_existing_file_end_to_end(fixtures, tmp_path):
    proc = _cqa("compare", str(fixtures / "runs" / "ok_b"), "--reference", str(fixtures / "runs" / "ok_a"),
                "-o", str(fixtures / "a_file"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors_only(proc.stderr) == [f"cqa compare: error: {fixtures / 'a_file'}: -o: is an existing file, not a directory"]


def test_lm_eval_names_the_file_of_non_utf8_data(fixtures, tmp_path):
    """lm-eval prints its own traceback for a task that raises; the last line is our one-line message."""
    bad = fixtures / "bad_utf8.jsonl"
    proc = subprocess.run([sys.executable, "-m", "lm_eval", "--model", "dummy", "--tasks", "cqa_custom",
                           "--metadata", json.dumps({"data": str(bad)})], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.endswith(f"{bad}:1: <encoding>: not valid UTF-8 (byte 0xff at column 170); save it as UTF-8"), last


# ------------------------------------------------------------------------- good input still goes through
@pytest.mark.slow
def test_checked_commands_still_score_good_input(smollm2_dir, mini_path, tmp_path, capsys):
    """The checks run first and then get out of the way: `cqa score` on items and on --text."""
    assert main(["score", "--model", str(smollm2_dir), str(mini_path), "--limit", "2", "--batch-size", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["t-lit-en-1", "t-lit-zh-1"]
    assert main(["score", "--model", str(smollm2_dir), "--text", "The bread rose.", "--intent", "a baker's night"]) == 0
    assert "i_bits" in json.loads(capsys.readouterr().out)
