"""Reference results shipped in leaderboard/reference/: slimmed faithfully, shown by default, and the
README's reader-scale table is exactly what they give."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from cqa_tasks.data import BENCH_FILE, data_dir, sha256_of
from leaderboard import build
from leaderboard.cli import main as cli_main
from leaderboard.reference import (
    README_END,
    README_START,
    add_reference,
    portable,
    reader_scale_markdown,
    reference_dirs,
    slim_row,
)

RUN_A = Path(__file__).parent / "data" / "surprise_era" / "hash-lm-a"
README = Path(__file__).parents[1] / "README.md"
SHIPPED = {"smollm2-135m-fp32", "gemma3-270m-fp32", "qwen2.5-coder-1.5b-fp32"}


def _quiet(message: str) -> None:
    pass


def _board(out: Path) -> dict:
    return json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))


def _models(board: dict) -> dict[str, dict]:
    return {m["model"]: m for s in board["sections"] for m in s["models"]}


def test_slim_row_drops_the_texts_and_keeps_every_number():
    row = {
        "doc_id": 3,
        "doc": {
            "id": "x-1",
            "group": "literary",
            "lang": "en",
            "dimension": "ethos",
            "original": "TEXT",
            "intent": "Y",
        },
        "target": "T",
        "arguments": [["ctx", "cont"]],
        "resps": [[["-1.5", "False"]]],
        "filtered_resps": [["-1.5", "False"]],
        "pair_acc": 1.0,
        "contrast_pair_acc_s_up": None,
        "cqa_item": {"ll_c": [-1.0, -2.0]},
    }
    slim = slim_row(row)
    assert slim["doc"] == {"id": "x-1", "group": "literary", "lang": "en", "dimension": "ethos"}
    assert "TEXT" not in json.dumps(slim) and "ctx" not in json.dumps(slim)
    assert {k: slim[k] for k in ("doc_id", "resps", "pair_acc", "contrast_pair_acc_s_up", "cqa_item")} == {
        k: row[k] for k in ("doc_id", "resps", "pair_acc", "contrast_pair_acc_s_up", "cqa_item")
    }


def test_portable_writes_machine_paths_as_placeholders_longest_first():
    places = {"/home/u/.cache/cqa": "$CQA_HOME", "/home/u/": "~/"}
    text = '{"pretrained": "/home/u/.cache/cqa/models/m", "cfg": "/home/u/x.yaml"}'
    assert portable(text, places) == '{"pretrained": "$CQA_HOME/models/m", "cfg": "~/x.yaml"}'


@pytest.fixture()
def reference(tmp_path) -> Path:
    add_reference(RUN_A, "lm-a", tmp_path / "refs")
    return tmp_path / "refs" / "lm-a"


def test_a_slimmed_reference_gives_the_same_numbers_as_its_run(reference, tmp_path):
    assert sorted(p.name for p in reference.iterdir()) == sorted(p.name for p in RUN_A.iterdir())
    assert "original" not in (next(reference.glob("samples_*.jsonl"))).read_text(encoding="utf-8")
    build([RUN_A], tmp_path / "user", warn=_quiet)
    build([], tmp_path / "ref", warn=_quiet, references=[reference])
    (user,) = _models(_board(tmp_path / "user")).values()
    (ref,) = _models(_board(tmp_path / "ref")).values()
    assert ref["model"] == "reference · lm-a" and ref["reference"] is True and user["reference"] is False
    assert ref["cells"] == user["cells"]  # every estimate, CI and item count, from the slimmed samples
    assert all(c["pair_acc"]["from"] == "samples" for c in ref["cells"].values())


def test_a_reference_never_merges_with_the_users_run_of_the_same_model(reference, tmp_path):
    summary = build([RUN_A], tmp_path / "both", warn=_quiet, references=[reference])
    assert summary.models == 2
    identities = {m["identity"] for m in _models(_board(tmp_path / "both")).values()}
    assert len(identities) == 2 and any(i.startswith("reference:") for i in identities)


def test_cqa_leaderboard_shows_the_shipped_references_unless_told_not_to(tmp_path, capsys):
    assert {p.name for p in reference_dirs()} == SHIPPED
    assert cli_main([str(RUN_A), "-o", str(tmp_path / "with")]) == 0
    names = set(_models(_board(tmp_path / "with")))
    assert {f"reference · {n}" for n in SHIPPED} <= names and len(names) == 4
    assert cli_main([str(RUN_A), "--no-reference", "-o", str(tmp_path / "without")]) == 0
    assert not any(n.startswith("reference") for n in _models(_board(tmp_path / "without")))
    assert cli_main(["-o", str(tmp_path / "only")]) == 0
    assert set(_models(_board(tmp_path / "only"))) == {f"reference · {n}" for n in SHIPPED}
    assert cli_main(["--no-reference", "-o", str(tmp_path / "none")]) == 1
    assert "nothing to show" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_the_shipped_references_are_full_runs_on_the_default_data():
    sha = sha256_of(data_dir() / BENCH_FILE)
    board_runs = []
    for ref in reference_dirs():
        (results,) = ref.glob("results_*.json")
        data = json.loads(results.read_text(encoding="utf-8"))
        assert "/root/" not in results.read_text(encoding="utf-8")  # no machine path in a shipped file
        assert data["config"].get("limit") is None, ref.name
        assert "cqa_match" in data["results"], ref.name
        shas = {c["metadata"]["data_sha256"] for t, c in data["configs"].items() if t.startswith("cqa_")
                and isinstance(c.get("metadata"), dict) and "data_sha256" in c["metadata"]}  # fmt: skip
        assert shas == {sha}, f"{ref.name} was run on other data: rerun it (README, reference results)"
        board_runs.append(ref.name)
    assert len(board_runs) == 3


def test_the_readme_reader_scale_table_is_what_the_references_give():
    text = README.read_text(encoding="utf-8")
    start, end = text.index(README_START) + len(README_START) + 1, text.index(README_END)
    assert text[start:end] == reader_scale_markdown()


def test_match_accuracy_comes_from_the_cqa_match_row(tmp_path):
    run = tmp_path / "runs" / "m"
    shutil.copytree(RUN_A, run)
    (results,) = run.glob("results_*.json")
    data = json.loads(results.read_text(encoding="utf-8"))
    data["results"]["cqa_match"] = {"match_acc,none": 0.75, "match_acc_stderr,none": 0.05}
    data["n-samples"]["cqa_match"] = {"original": 20, "effective": 20}
    results.write_text(json.dumps(data), encoding="utf-8")
    build([tmp_path / "runs", RUN_A.parent / "hash-lm-b"], tmp_path / "out", warn=_quiet)
    models = _board(tmp_path / "out")["sections"][0]["models"]
    by_name = {m["model"].rsplit("/", 1)[-1]: m for m in models}
    assert by_name["hash-lm-a"]["match_acc"]["mean"] == 0.75 and by_name["hash-lm-a"]["match_acc"]["n"] == 20
    assert by_name["hash-lm-a"]["match_acc"]["ci95"] == pytest.approx(
        [0.75 - 1.96 * 0.05, 0.75 + 1.96 * 0.05]
    )
    assert by_name["hash-lm-b"]["match_acc"] is None
    rows = list(csv.DictReader((tmp_path / "out" / "leaderboard.csv").open(encoding="utf-8")))
    assert sorted(r["match_acc"] for r in rows if r["match_acc"]) == ["0.75"]
    assert "0.750" in (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
