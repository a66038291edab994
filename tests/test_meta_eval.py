"""`cqa meta-eval`: the table and the plots from two readers' runs, and the leaderboard's link to them."""

import json
import shutil
from pathlib import Path

import pytest

from cqa_tasks import agreement
from leaderboard import meta_eval
from leaderboard.meta_eval_report import cell
from leaderboard.meta_eval_runs import Interval, build_sections, read_runs
from tests.human_files import PAIRS, RATINGS, KnownLM, evaluate, pair_table, rating_table, write_jsonl
from tests.lm_eval_files import write_run

ROOT = Path(__file__).resolve().parents[1]
READERS = {"small": (1.0, 135_000_000), "large": (0.7, 1_500_000_000)}  # scale of the fake lls, size


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two readers ("large" written first, so the table's size order is not the disk order), each
    with a pairs run and a ratings run, as `lm_eval --output_path DIR/<reader> --log_samples` writes them."""
    root = tmp_path_factory.mktemp("runs")
    pairs = write_jsonl(root / "pairs.jsonl", PAIRS)
    ratings = write_jsonl(root / "ratings.jsonl", RATINGS)
    for reader in ("large", "small"):
        scale, size = READERS[reader]
        for task, data, table in (("cqa_human_pairs", pairs, pair_table()), ("cqa_human_ratings", ratings, rating_table())):
            res = evaluate(task, data, KnownLM(table, scale))
            res["config"] = dict(res.get("config") or {}) | {"model_num_parameters": size}
            date = "2026-12-01T10-00-00.000000" if task == "cqa_human_pairs" else "2026-12-01T11-00-00.000000"
            write_run(res, root / "out" / reader, date=date, model_args=f"pretrained=/models/{reader},dtype=float32")
    return root / "out"


def test_sections_put_readers_side_by_side_smallest_first(runs):
    sections = build_sections(read_runs([runs], print))
    assert [(s.task, s.kind) for s in sections] == [("cqa_human_pairs", "pairs"), ("cqa_human_ratings", "ratings")]
    for section in sections:
        assert section.labels == ["small", "large"]
        assert [r.n for r in section.readers] == [4, 4]
    ratings = sections[1]
    assert ratings.criteria == ["coherence", "surprise"]
    small = ratings.readers[0].values["tau:i:coherence"]
    assert small.value == pytest.approx(0.4)  # the hand-computed τ-b of tests/human_files.py
    assert sections[0].readers[0].values["i"].value == pytest.approx(0.75)


def test_report_files_and_table(runs, tmp_path, capsys):
    out = tmp_path / "report"
    assert meta_eval.main([str(runs), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    md = (out / "meta_eval.md").read_text(encoding="utf-8")
    assert printed.strip() == md.strip()
    assert "| score | small (135M, n=4) | large (1.5B, n=4) |" in md
    assert "| score | small (135M, n=4) τ-b | ρ | large (1.5B, n=4) τ-b | ρ |" in md
    results = json.loads(next((runs / "small").glob("results_*T11*.json")).read_text(encoding="utf-8"))
    row = results["results"]["cqa_human_ratings"]
    expected = cell(Interval(row["tau:i:coherence,none"], row["tau_lo:i:coherence,none"], row["tau_hi:i:coherence,none"]))
    assert expected.startswith("+0.400 [")
    assert f"| I (bits) | {expected} |" in md
    wins = agreement.accuracy_estimate([1, 0, 1, 1])
    assert f"| I (bits) | {cell(Interval(0.75, wins.low, wins.high), signed=False)} |" in md
    assert "small/results_2026-12-01T11-00-00.000000.json" in md  # paths relative to the dirs given
    data = json.loads((out / "meta_eval.json").read_text(encoding="utf-8"))
    assert [r["label"] for r in data["sections"][1]["readers"]] == ["small", "large"]
    assert data["sections"][1]["readers"][0]["values"]["tau:i:coherence"]["value"] == pytest.approx(0.4)
    # one plot per section, written deterministically
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 2 and pngs[0].startswith("cqa_human_pairs-")
    first = {p: (out / p).read_bytes() for p in pngs}
    assert meta_eval.main([str(runs), "-o", str(out)]) == 0
    assert {p: (out / p).read_bytes() for p in pngs} == first
    assert all(b.startswith(b"\x89PNG") for b in first.values())


def test_latest_run_of_a_reader_wins(runs, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    old = next((copy / "small").glob("results_*T11*.json"))
    data = json.loads(old.read_text(encoding="utf-8"))
    data["results"]["cqa_human_ratings"]["tau:i:coherence,none"] = 0.123
    (copy / "small" / "results_2026-12-02T09-00-00.json").write_text(json.dumps(data), encoding="utf-8")
    ratings = build_sections(read_runs([copy], print))[1]
    assert ratings.readers[0].values["tau:i:coherence"].value == 0.123


def test_no_human_runs_is_one_clear_error(tmp_path, capsys):
    assert meta_eval.main([str(tmp_path)]) == 1
    assert "no cqa_human_pairs / cqa_human_ratings results under" in capsys.readouterr().err
    assert meta_eval.main([str(tmp_path / "missing")]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_shorthand_and_registration():
    assert meta_eval.normalize_argv(["meta-eval", "runs/", "-o", "x"]) == ["meta-eval", "report", "runs/", "-o", "x"]
    assert meta_eval.normalize_argv(["meta-eval", "convert", "hanna", "f"]) == ["meta-eval", "convert", "hanna", "f"]
    assert meta_eval.normalize_argv(["leaderboard", "x"]) == ["leaderboard", "x"]
    # (tomllib is 3.11+; the project supports 3.10): the entry in its table, textually
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    commands = pyproject.split('[project.entry-points."cqa.commands"]', 1)[1].split("\n[", 1)[0]
    assert 'meta-eval = "leaderboard.meta_eval"' in commands.splitlines()
    assert callable(meta_eval.add_parser)


def test_validate_command_prints_one_line_per_problem(tmp_path, capsys):
    bad = write_jsonl(tmp_path / "r.jsonl", [RATINGS[0], RATINGS[1] | {"human": {"coherence": None, "surprise": 1}}])
    assert meta_eval.main(["validate", "ratings", str(bad)]) == 1
    out = capsys.readouterr()
    assert out.out == f"{bad}:2: human.coherence: must be a finite number, got None\n"
    assert "FAILED: 1 valid records in 1 file(s), 1 error(s)" in out.err
    good = write_jsonl(tmp_path / "p.jsonl", PAIRS)
    assert meta_eval.main(["validate", "pairs", str(good)]) == 0


def test_leaderboard_links_a_meta_eval_report_when_present(tmp_path, runs):
    from leaderboard.build import build

    fixture = ROOT / "tests" / "data" / "leaderboard" / "runs_a"
    out = tmp_path / "board"
    build([fixture], out, warn=lambda m: None)
    assert "meta-eval/meta_eval.md" not in (out / "index.html").read_text(encoding="utf-8")
    assert meta_eval.main([str(runs), "-o", str(out / "meta-eval")]) == 0
    build([fixture], out, warn=lambda m: None)
    assert '<a href="meta-eval/meta_eval.md">Agreement with human judgments</a>' in (out / "index.html").read_text(encoding="utf-8")
