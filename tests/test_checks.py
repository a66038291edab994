"""Issue 16: the checks every command makes before any work, outputs that are never half there, and a
refused or failed training run that never blocks the corrected command."""

from __future__ import annotations

import json
import math

import pytest

from cqa_tasks import atomic, checks
from cqa_tasks.checks import DATA, USAGE, InputError, Issue, usage


def test_issue_lines():
    assert str(Issue("f.jsonl", "bad", line=3, field="lang")) == "f.jsonl:3: lang: bad"
    assert str(Issue("f.jsonl", "not found")) == "f.jsonl: not found"
    assert str(usage("--limit", "must be an integer >= 1, got 0")) == "--limit: must be an integer >= 1, got 0"


def test_input_error_lists_all_on_one_line_each_and_picks_the_exit_code():
    e = InputError([Issue("a", "x"), Issue("b", "y"), Issue("a", "x")])
    assert [str(i) for i in e.issues] == ["a: x", "b: y"]  # the same problem found twice is listed once
    assert str(e) == "a: x (and 1 more)" and e.code == DATA
    assert InputError([Issue("a", "x"), usage("--o", "y")]).code == USAGE
    assert str(InputError([Issue("a\nb", "x")])) == "a b: x"  # a newline in a name cannot start a new line


@pytest.mark.parametrize("value, low, high, bad", [
    (3, 1, None, False), (0, 1, None, True), (1.5, 1, None, True), (True, 0, None, True), ("2", 1, None, True),
    (2.0, 1, None, False), (5, 0, 4, True),
])  # fmt: skip
def test_int_problem(value, low, high, bad):
    assert (checks.int_problem(value, low, high) is not None) == bad


@pytest.mark.parametrize("value, bad", [(0.5, False), (math.nan, True), (math.inf, True), (-1.0, True), (0.0, True),
                                        (1.0, False), ("0.5", True), (False, True)])
def test_real_problem_in_half_open_interval(value, bad):
    assert (checks.real_problem(value, 0, 1, low_open=True) is not None) == bad


def test_read_text_names_file_and_line_of_the_first_bad_byte(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"a": 1}\n{"b": "caf\xe9"}\n')
    with pytest.raises(InputError) as e:
        checks.read_text(f)
    assert str(e.value) == f"{f}:2: <encoding>: not valid UTF-8 (byte 0xe9 at column 11); save it as UTF-8"
    f.write_bytes(b"\xef\xbb\xbfhello")  # a byte-order mark is dropped, not an error
    assert checks.read_text(f) == "hello"
    big = tmp_path / "big.jsonl"
    big.write_text("12345")
    with pytest.raises(InputError, match="big.jsonl: is 5 bytes; the limit is 4"):
        checks.read_text(big, max_bytes=4)


def test_json_depth_nan_and_record_shape():
    with pytest.raises(ValueError, match="nested too deeply"):
        checks.parse_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        checks.parse_json('{"x": NaN}')
    assert math.isnan(checks.parse_json('{"x": NaN}', allow_nan=True)["x"])
    found = dict(checks.shape_problems({"a": "x" * 20_001, "b": {"c": "ok\ud800"}, "d": [[[[[[[[[1]]]]]]]]]}))
    assert set(found) == {"a", "b.c", "d[0][0][0][0][0][0][0]"}


def test_output_paths(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    assert "is an existing file" in str(checks.output_dir(f, "-o")[0])
    assert "is a directory" in str(checks.output_file(tmp_path, "--json")[0])
    assert "cannot be created" in str(checks.output_dir(f / "sub" / "dir", "-o")[0])
    assert checks.output_dir(tmp_path / "new" / "dir", "-o") == [] and checks.output_file(tmp_path / "n.json", "-j") == []
    assert all(i.code == USAGE for i in checks.output_dir(f, "-o"))


def test_outputs_appear_together_or_not_at_all(tmp_path):
    board = tmp_path / "a" / "board"
    with pytest.raises(KeyboardInterrupt):
        with atomic.Outputs() as out:
            out.text(board / "one.md", "1")
            out.text(board / "plots" / "two.svg", "2")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # not even the directories made for them
    (tmp_path / "keep.md").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.Outputs() as out:
            out.text(tmp_path / "keep.md", "new")
            raise RuntimeError
    assert (tmp_path / "keep.md").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.md"]
    with atomic.Outputs() as out:
        out.text(board / "one.md", "1")
        out.path(board / "never.png")  # a writer that wrote nothing leaves nothing
    assert sorted(p.name for p in board.iterdir()) == ["one.md"]


def test_a_refused_run_then_the_corrected_command(tmp_path):
    """`lora.rank=0` is refused before anything is written; a run that failed before its first
    checkpoint (here: simulated) is cleared by the corrected command instead of blocking it."""
    from cqa_tasks.cli import main
    from cqa_train import recipe as recipes
    from cqa_train.run_state import write_manifest
    from cqa_train.trainer import _check_run

    run = tmp_path / "run"
    assert main(["train", "cqa_cot", "lora.rank=0", f"output_dir={run}"]) == USAGE
    assert not run.exists()

    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    common = [f"base_model={base}", f"output_dir={run}", "limit=2"]
    failed = recipes.load("cqa_cot", [*common, "lora.target_modules=[no_such_module]"])
    run.mkdir()
    write_manifest(run, {"recipe": failed.to_dict(), "status": "running", "exports": {}, "data_sha256": {}})
    (run / "train.log").write_text("peft: target modules not found\n")
    (run / "checkpoints").mkdir()

    corrected = recipes.load("cqa_cot", common)
    *_, previous, done = _check_run(corrected, run, overwrite=False, stop_after_epoch=None, main_process=True)
    assert previous is None and not done and not run.exists()

    # a run with a checkpoint is work to keep: a different recipe is still refused
    run.mkdir()
    write_manifest(run, {"recipe": failed.to_dict(), "status": "running", "exports": {}, "data_sha256": {}})
    (run / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    with pytest.raises(recipes.RecipeError, match="holds a different run"):
        _check_run(corrected, run, overwrite=False, stop_after_epoch=None, main_process=True)
    assert (run / "manifest.json").is_file()


def test_a_corrupt_manifest_is_one_line_naming_it(tmp_path):
    from cqa_train.run_state import read_manifest

    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="manifest.json: not a cqa run manifest"):
        read_manifest(tmp_path)


def test_a_subcommand_that_cannot_be_imported_is_skipped_with_a_warning(monkeypatch, capsys):
    import importlib.metadata
    from types import SimpleNamespace

    from cqa_tasks import cli

    eps = [SimpleNamespace(name="leaderboard", value="leaderboard.cli"), SimpleNamespace(name="gone", value="leaderboard.no_such")]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: eps)
    cli.command_modules.cache_clear()
    try:
        assert [m.__name__ for m in cli.command_modules()] == ["leaderboard.cli"]
        assert "cqa: warning: subcommand 'gone' (leaderboard.no_such) not available" in capsys.readouterr().err
    finally:
        cli.command_modules.cache_clear()
