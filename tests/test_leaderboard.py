"""`cqa leaderboard`: built from the synthetic lm-eval output dirs in tests/data/leaderboard/.

Fast and pure Python. Expected numbers are worked out by hand from the per-item values spelled
out in tests/data/leaderboard/make_fixtures.py (ALPHA_LITERARY).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import statistics
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leaderboard import NoResultsError, build
from leaderboard.cli import add_parser
from leaderboard.cli import main as cli_main
from leaderboard.identity import display_name, identity_key, normalize_model_args, parse_model_args
from leaderboard.reading import load_run
from leaderboard.stats import estimate_from_values, format_rank, pool_estimates, rank_intervals
from leaderboard.table import build_sections, cell_estimate, select_leaves

DATA = Path(__file__).parent / "data" / "leaderboard"
RUNS = [DATA / "runs_a", DATA / "runs_b"]
V1_SHA = "a1" * 32
V2_SHA = "b2" * 32
EVIL = "org/<script>alert(1)</script>"
BROKEN = "runs_a/broken/results_2026-02-04T00-00-00.000000.json"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("leaderboard")
    build(RUNS, out, warn=lambda message: None)
    return out


@pytest.fixture(scope="module")
def board(out) -> dict:
    return json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))


def section(board: dict, sha: str) -> dict:
    (found,) = [s for s in board["sections"] if s["data_sha256"] == sha]
    return found


def model(sec: dict, name: str) -> dict:
    (found,) = [m for m in sec["models"] if m["model"] == name]
    return found


# --- outputs ------------------------------------------------------------------------------------


def test_writes_all_outputs(out):
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "index.html"):
        assert (out / name).stat().st_size > 0, name
    svgs = sorted(p.name for p in (out / "plots").glob("*.svg"))
    assert svgs == [
        f"v{v}-{sha[:12]}_{plot}.svg"
        for v, sha in (("1.0", V1_SHA), ("2.0", V2_SHA))
        for plot in ("delta_i", "heatmap", "scatter")
    ]
    for svg in (out / "plots").glob("*.svg"):
        assert svg.read_text(encoding="utf-8").startswith('<?xml version="1.0"')


def test_output_is_deterministic(out, tmp_path):
    build(RUNS, tmp_path, warn=lambda message: None)
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "index.html"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


# --- sections, identities, latest run -----------------------------------------------------------


def test_benchmark_versions_are_separate_tables(board):
    assert [(s["bench_version"], s["data_sha256"]) for s in board["sections"]] == [
        ("2.0", V2_SHA),
        ("1.0", V1_SHA),
    ]
    v1, v2 = section(board, V1_SHA), section(board, V2_SHA)
    assert sorted(m["model"] for m in v1["models"]) == sorted(["alpha", "org/Beta-1B", EVIL, "gamma-350m"])
    assert sorted(m["model"] for m in v2["models"]) == ["alpha", "alpha + cqa-lora"]
    # The same identity on both versions: two rows with their own numbers, never pooled.
    assert model(v1, "alpha")["identity"] == model(v2, "alpha")["identity"]
    assert model(v1, "alpha")["cells"]["literary"]["pair_acc"]["mean"] == 26 / 32
    assert model(v2, "alpha")["cells"]["literary"]["pair_acc"]["mean"] == 20 / 32
    assert model(v2, "alpha")["cells"]["literary"]["pair_acc"]["n"] == 32


def test_latest_run_per_identity_wins(board):
    v1 = section(board, V1_SHA)
    alpha = model(v1, "alpha")
    # runs_b/zz_alpha_old spells the same identity differently (string args, trailing slash, fp32,
    # device and batch size) and is older: it must lose although it is read last.
    assert alpha["results_file"] == "runs_a/models__alpha/results_2026-02-01T10-00-00.000000.json"
    assert alpha["date_utc"] == "2026-02-01 10:00 UTC"
    assert v1["superseded_runs"] == ["runs_b/zz_alpha_old/results_2026-01-15T10-00-00.000000.json"]
    assert alpha["model_args"] == {"dtype": "float32", "pretrained": "/models/alpha"}


def test_identity_is_the_full_normalized_model_args():
    old = normalize_model_args(
        parse_model_args("pretrained=/models/alpha/,dtype=fp32,device=cuda:0,batch_size=auto")
    )
    new = normalize_model_args({"pretrained": "/models/alpha", "dtype": "float32"})
    assert identity_key("hf", old) == identity_key("hf", new) == "hf:dtype=float32,pretrained=/models/alpha"
    lora = normalize_model_args({"pretrained": "/models/alpha", "peft": "/adapters/x", "dtype": "float32"})
    bf16 = normalize_model_args({"pretrained": "/models/alpha", "dtype": "bf16"})
    bos = normalize_model_args({"pretrained": "/models/alpha", "dtype": "float32", "add_bos_token": "true"})
    assert len({identity_key("hf", a) for a in (new, lora, bf16, bos)}) == 4
    assert bos["add_bos_token"] == "True"
    # dtype=auto (or none) is the dtype the model really ran in, as lm-eval reports it.
    assert normalize_model_args({"pretrained": "/m", "dtype": "auto"}, "torch.float32")["dtype"] == "float32"
    assert normalize_model_args({"pretrained": "/m"}, "torch.bfloat16")["dtype"] == "bfloat16"


def test_display_names_from_other_machines():
    assert display_name({"pretrained": "/home/someone/ckpt/gamma-350m"}) == "gamma-350m"
    assert display_name({"pretrained": "C:\\Users\\x\\models\\delta\\"}) == "delta"
    assert display_name({"pretrained": "HuggingFaceTB/SmolLM2-135M"}) == "HuggingFaceTB/SmolLM2-135M"
    assert display_name({"pretrained": "/m/alpha", "peft": "/a/lora/"}) == "alpha + lora"
    assert display_name({"pretrained": EVIL}) == EVIL


def test_run_date_falls_back_to_the_file_name(tmp_path):
    src = next((DATA / "runs_a/models__beta").glob("results_*.json"))
    data = json.loads(src.read_text(encoding="utf-8"))
    del data["date"]
    (tmp_path / src.name).write_text(json.dumps(data), encoding="utf-8")
    run = load_run(tmp_path, tmp_path / src.name, print)
    assert run.date_text == "2026-02-02 09:30 UTC"


def test_row_metadata(board):
    beta = model(section(board, V1_SHA), "org/Beta-1B")
    assert beta["model_args"] == {"add_bos_token": "True", "dtype": "bfloat16", "pretrained": "org/Beta-1B"}
    assert (beta["dtype"], beta["num_parameters"], beta["lm_eval_version"]) == (
        "bfloat16",
        1_234_000_000,
        "0.4.13",
    )


# --- numbers ------------------------------------------------------------------------------------


def test_literary_pair_accuracy_and_ci_by_hand(board):
    cell = model(section(board, V1_SHA), "alpha")["cells"]["literary"]["pair_acc"]
    # 26 of 32 pairs won: sd^2 = 32/31 * p(1-p) = 0.157258; SE = sqrt(0.157258/32) = 0.0701022.
    assert cell["mean"] == pytest.approx(0.8125)
    assert cell["se"] == pytest.approx(0.0701022, abs=1e-7)
    assert cell["ci95"] == pytest.approx([0.6750997, 0.9499003], abs=1e-7)
    assert (cell["n"], cell["leaf_tasks"], cell["from"]) == (32, 8, "samples")


def test_dimension_pooled_across_languages_by_hand(board):
    ethos = model(section(board, V1_SHA), "alpha")["cells"]["literary_ethos"]
    # en [1,1,0,1] + zh [1,0,1,1]: 6/8; SS = 6*0.0625 + 2*0.5625 = 1.5; SE = sqrt(1.5/7/8) = 0.163663.
    assert ethos["pair_acc"]["mean"] == pytest.approx(0.75)
    assert ethos["pair_acc"]["se"] == pytest.approx(0.1636634, abs=1e-7)
    assert ethos["pair_acc"]["ci95"] == pytest.approx([0.4292197, 1.0], abs=1e-7)  # upper end clipped at 1
    # ΔI: en [2, 1, -1, 2] + zh [1.5, -0.5, 1, 2]: mean 1; SS = 9.5; SE = sqrt(9.5/7/8) = 0.411877.
    assert ethos["delta_i"]["mean"] == pytest.approx(1.0)
    assert ethos["delta_i"]["ci95"] == pytest.approx([0.1927206, 1.8072794], abs=1e-7)
    en = model(section(board, V1_SHA), "alpha")["cells"]["literary_en"]["pair_acc"]
    assert en["mean"] == pytest.approx(13 / 16)  # 3 + 4 + 3 + 3 wins in the four English leaves


def test_samples_and_leaf_rows_give_the_same_estimates():
    run = load_run(DATA / "runs_a", next((DATA / "runs_a/models__alpha").glob("results_*.json")), print)
    assert not isinstance(run, str)
    leaves = select_leaves(run.leaves.values(), "literary")
    assert all(leaf.samples is not None for leaf in leaves)
    rows_only = [type(leaf)(**{**leaf.__dict__, "samples": None}) for leaf in leaves]
    for metric in ("pair_acc", "delta_i", "acc_overlap"):
        a, b = cell_estimate(leaves, metric), cell_estimate(rows_only, metric)
        assert (a.source, b.source) == ("samples", "results")
        assert a.mean == pytest.approx(b.mean) and a.se == pytest.approx(b.se), metric
    # Both equal the plain SE over all 32 items; lm-eval's group stderr (pooled within-task
    # variance) does not, which is why groups are recomputed from leaves.
    values = [v for leaf in leaves for v in leaf.samples["delta_i"]]
    plain = statistics.stdev(values) / math.sqrt(len(values))
    assert cell_estimate(leaves, "delta_i").se == pytest.approx(plain)
    results = json.loads(run.path.read_text(encoding="utf-8"))
    assert results["results"]["cqa_creative"]["delta_i_stderr,none"] != pytest.approx(plain, rel=0.01)


def test_na_stderr_uses_samples_and_a_bad_samples_file_falls_back(board):
    gamma = model(section(board, V1_SHA), "gamma-350m")["cells"]
    # stderrs are "N/A" in gamma's results file: literary CIs come from its samples files.
    assert gamma["literary"]["pair_acc"]["from"] == "samples"
    assert gamma["literary"]["pair_acc"]["ci95"][0] is not None
    # one factual samples file is truncated: that leaf has no SE, so neither has the factual cell.
    assert gamma["factual"]["pair_acc"]["from"] == "mixed"
    assert gamma["factual"]["pair_acc"]["ci95"] == [None, None]
    assert gamma["factual"]["pair_acc"]["mean"] == pytest.approx(20 / 32)


def test_ci_and_pooling_math():
    est = estimate_from_values([1, 1, 0, 1], bounds=(0.0, 1.0))
    assert (est.mean, est.se, est.lo, est.hi) == (0.75, 0.25, pytest.approx(0.26), 1.0)
    assert estimate_from_values([1, 1, 0, 1]).hi == pytest.approx(1.24)
    assert estimate_from_values([3.0]).se is None
    a, b = [2.0, 1.0, -1.0, 2.0], [1.5, -0.5, 1.0, 2.0, 4.0]
    pooled = pool_estimates([estimate_from_values(a), estimate_from_values(b)])
    whole = estimate_from_values(a + b)
    assert (pooled.mean, pooled.n) == (pytest.approx(whole.mean), 9)
    assert pooled.se == pytest.approx(whole.se)


# --- ranks --------------------------------------------------------------------------------------


def test_rank_ties_where_cis_overlap(board):
    v1 = section(board, V1_SHA)
    # Literary pair acc [95 % CI]: alpha 0.812 [0.675, 0.950], beta 0.750 [0.598, 0.902],
    # evil 0.438 [0.263, 0.612], gamma 0.250 [0.098, 0.402].
    assert [(m["model"], m["rank"]) for m in v1["models"]] == [
        ("alpha", "1–2"),
        ("org/Beta-1B", "1–3"),
        (EVIL, "2–4"),
        ("gamma-350m", "3–4"),
    ]
    assert [m["rank"] for m in section(board, V2_SHA)["models"]] == ["1–2", "1–2"]


def test_rank_intervals():
    assert rank_intervals([(0.6, 0.9), (0.1, 0.3)]) == [(1, 1), (2, 2)]
    assert rank_intervals([(0.5, 0.5), (0.5, 0.5), (0.1, 0.2)]) == [(1, 2), (1, 2), (3, 3)]
    assert format_rank((1, 2)) == "1–2" and format_rank((3, 3)) == "3" and format_rank(None) == "—"


def test_csv_rows(out):
    rows = list(csv.DictReader((out / "leaderboard.csv").open(encoding="utf-8")))
    assert len(rows) == 6
    alpha = next(r for r in rows if r["model"] == "alpha" and r["bench_version"] == "1.0")
    assert (alpha["rank"], alpha["literary.n"]) == ("1–2", "32")
    assert float(alpha["literary.pair_acc"]) == 0.8125
    assert float(alpha["literary.pair_acc.ci_lo"]) == pytest.approx(0.6750997, abs=1e-7)
    assert float(alpha["literary_ethos.delta_i.ci_hi"]) == pytest.approx(1.8072794, abs=1e-7)


def test_markdown_table(out):
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "## CQA-Bench v1.0 · data a1a1a1a1a1a1" in md
    # v1-era files carry no primary score: it is shown as absent (—), never as 0, and pair acc follows
    assert "| 1–2 | **alpha**<br>hf: dtype=float32,pretrained=/models/alpha | — | 0.812 [0.675, 0.950] |" in md
    assert "0.250 [0.098, 0.402]" in md  # gamma


# --- escaping and self-containment --------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_strings_from_results_are_escaped(out):
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parser = _Tags()
    parser.feed(page)
    assert [t for t, _ in parser.tags].count("script") == 1  # the page's own sorting script
    assert not any(t == "img" for t, _ in parser.tags)
    for svg in (out / "plots").glob("*.svg"):
        assert "<script" not in svg.read_text(encoding="utf-8")
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_page_is_self_contained_and_says_what_it_is(out):
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    parser = _Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert not attrs.get("src"), tag
        assert attrs.get("href", "#").startswith(("#", "data:")), tag
    csp = next(a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "Deterministic and judge-free" in page
    assert V1_SHA in page and V2_SHA in page  # the full data hashes are named
    assert page.count('<table class="sortable">') == 4


# --- robustness ---------------------------------------------------------------------------------


def test_truncated_results_file_is_skipped_with_a_warning(tmp_path, capsys):
    summary = build(RUNS, tmp_path)
    err = capsys.readouterr().err
    assert "warning: skipping" in err and str(DATA / BROKEN) in err
    assert "samples_cqa_factual_zh_lexis_2026-02-05T12-00-00.000000.jsonl" in err
    assert [label for label, _ in summary.skipped] == [BROKEN]
    assert (summary.runs, summary.models) == (7, 6)
    assert BROKEN in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_empty_dir_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoResultsError, match=r"no lm-eval results \(results_\*\.json\) under"):
        build([empty], tmp_path / "out")
    assert issubclass(NoResultsError, ValueError)
    assert not (tmp_path / "out").exists()
    assert cli_main([str(empty), "-o", str(tmp_path / "out")]) == 1
    assert "cqa leaderboard: error: no lm-eval results" in capsys.readouterr().err
    assert cli_main([str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 1


def test_only_broken_files_is_an_error(tmp_path):
    (tmp_path / "runs").mkdir()
    shutil.copy(DATA / BROKEN, tmp_path / "runs")
    with pytest.raises(NoResultsError, match="none with usable CQA-Bench results"):
        build([tmp_path / "runs"], tmp_path / "out", warn=lambda message: None)


def test_partial_run_and_bad_leaf_row(tmp_path):
    """A run of the English literary tasks only, one of them without pair_acc: kept, marked partial."""
    src = next((DATA / "runs_a/models__beta").glob("results_*.json"))
    data = json.loads(src.read_text(encoding="utf-8"))
    data["results"] = {k: v for k, v in data["results"].items() if k.startswith("cqa_creative_en_")}
    del data["results"]["cqa_creative_en_lexis"]["pair_acc,none"]
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / src.name).write_text(json.dumps(data), encoding="utf-8")
    warnings: list[str] = []
    build([tmp_path / "runs"], tmp_path / "out", warn=warnings.append)
    assert any("ignoring task cqa_creative_en_lexis: no numeric pair_acc" in w for w in warnings)
    (row,) = json.loads((tmp_path / "out/leaderboard.json").read_text(encoding="utf-8"))["sections"][0][
        "models"
    ]
    assert row["cells"]["literary"]["pair_acc"]["leaf_tasks"] == 3
    assert "factual" not in row["cells"] and row["rank"] == "1"
    page = (tmp_path / "out/index.html").read_text(encoding="utf-8")
    assert 'class="partial" title="partial: 3 leaf task(s)' in page


def test_sections_from_one_run_on_two_data_versions_are_not_mixed(tmp_path):
    src = next((DATA / "runs_a/models__beta").glob("results_*.json"))
    data = json.loads(src.read_text(encoding="utf-8"))
    for task, config in data["configs"].items():
        if "_zh_" in task:
            config["metadata"]["data_sha256"] = "c3" * 32
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / src.name).write_text(json.dumps(data), encoding="utf-8")
    run = load_run(tmp_path / "runs", tmp_path / "runs" / src.name, print)
    sections = build_sections([run])
    assert sorted(s.data_sha256 for s in sections) == ["a1" * 32, "c3" * 32]
    assert all(s.rows[0].get("literary", "pair_acc").leaves == 4 for s in sections)


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_subcommand(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="cqa")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["leaderboard", *map(str, RUNS), "-o", str(tmp_path / "board")])
    assert args.func(args) == 0
    assert f"wrote {tmp_path / 'board' / 'index.html'}" in capsys.readouterr().out
    assert math.isfinite(
        json.loads((tmp_path / "board/leaderboard.json").read_text())["sections"][0]["models"][0]["date"]
    )


def test_hf_prefix_backend_shares_the_hf_row():
    from leaderboard.identity import identity_key, normalize_backend

    args = {"dtype": "float32", "pretrained": "/models/a"}
    assert identity_key(normalize_backend("hf-prefix"), args) == identity_key(normalize_backend("hf"), args)
    assert normalize_backend("vllm") != normalize_backend("hf")


# --- the surprise-controlled scores from a fresh run ---------------------------------------------


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory) -> tuple[dict, Path]:
    """A full `cqa` run written as lm-eval writes it, from a fake LM (every leaf size, varied outcomes)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir
    from tests.lm_eval_files import HashLM, write_run

    tm = TaskManager(include_defaults=False, include_path=str(task_dir()))
    res = simple_evaluate(model=HashLM(), tasks=["cqa"], task_manager=tm, bootstrap_iters=0, log_samples=True)
    root = tmp_path_factory.mktemp("fresh")
    write_run(res, root / "fake")
    return res, root


def test_fresh_run_shows_the_new_scores_pooled_exactly(fresh_run, tmp_path):
    from cqa_tasks.metric import PRIMARY_METRIC, aggregate

    res, root = fresh_run
    build([root], tmp_path / "out", warn=lambda message: None)
    board = json.loads((tmp_path / "out/leaderboard.json").read_text(encoding="utf-8"))
    (sec,) = board["sections"]
    assert sec["rank_by"] == f"literary.{PRIMARY_METRIC}"
    (row,) = sec["models"]
    literary = [s for task, rows in res["samples"].items() if task.startswith("cqa_creative_") for s in rows]
    assert len(literary) == 176
    for metric in (PRIMARY_METRIC, "pair_acc_s_up", "pair_acc_s_down", "pair_acc_balanced", "share_s_up",
                   "u_pair_acc_balanced", "pair_acc_foreign", "contrast_pair_acc", "delta_contrast"):
        got = row["cells"]["literary"][metric]
        assert got["mean"] == pytest.approx(aggregate(metric, [s[metric] for s in literary])), metric
        # lm-eval's own group row agrees (exact pooling there too)
        assert got["mean"] == pytest.approx(res["groups"]["cqa_creative"][f"{metric},none"]), metric
    up = [s["pair_acc_s_up"] for s in literary if s["pair_acc_s_up"] is not None]
    assert row["cells"]["literary"]["pair_acc_s_up"]["n"] == len(up)
    assert row["cells"]["literary"][PRIMARY_METRIC]["ci95"][0] is not None
    md = (tmp_path / "out/leaderboard.md").read_text(encoding="utf-8")
    primary = row["cells"]["literary"][PRIMARY_METRIC]["mean"]
    assert f"| 1 | **fake**<br>hf: pretrained=/models/fake | {primary:.3f} [" in md
    with (tmp_path / "out/leaderboard.csv").open(encoding="utf-8") as fh:
        (line,) = list(csv.DictReader(fh))
    assert float(line[f"literary.{PRIMARY_METRIC}"]) == pytest.approx(primary)
    assert float(line["literary.share_s_up"]) == pytest.approx(aggregate("share_s_up", [s["share_s_up"] for s in literary]))
    # the surprise plot: written, and linked from both pages with ρ per group
    slug = sec["bench_version"]
    (png,) = (tmp_path / "out/plots").glob("*_surprise.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and slug
    page = (tmp_path / "out/index.html").read_text(encoding="utf-8")
    assert f'href="plots/{png.name}"' in page and "literary: ρ(ΔI, ΔS) = " in page
    assert f"(plots/{png.name})" in md


def test_fresh_results_without_samples_pool_strata_by_their_share(fresh_run, tmp_path):
    """Without samples files the stratum sizes come from share_s_up; the pooled accuracy stays exact."""
    res, root = fresh_run
    only = tmp_path / "runs/fake"
    only.mkdir(parents=True)
    (results,) = (root / "fake").glob("results_*.json")
    shutil.copy(results, only / results.name)
    build([tmp_path / "runs"], tmp_path / "out", warn=lambda message: None)
    board = json.loads((tmp_path / "out/leaderboard.json").read_text(encoding="utf-8"))
    cell = board["sections"][0]["models"][0]["cells"]["literary"]
    for metric in ("pair_acc_s_up", "pair_acc_balanced", "contrast_pair_acc_balanced"):
        assert cell[metric]["mean"] == pytest.approx(res["groups"]["cqa_creative"][f"{metric},none"]), metric


def test_v1_era_results_still_load_with_the_new_columns_absent(tmp_path):
    v1_era = Path(__file__).parent / "data" / "v1_era"
    build([v1_era], tmp_path / "out", warn=lambda message: None)
    board = json.loads((tmp_path / "out/leaderboard.json").read_text(encoding="utf-8"))
    (sec,) = board["sections"]
    assert sec["rank_by"] == "literary.pair_acc"  # no run has the primary score: rank as before
    cell = sec["models"][0]["cells"]["literary"]
    assert cell["pair_acc"]["n"] == 8
    assert "contrast_pair_acc_balanced" not in cell and "pair_acc_s_up" not in cell
    md = (tmp_path / "out/leaderboard.md").read_text(encoding="utf-8")
    assert "| 1 | **v1-era**<br>hf: pretrained=/models/v1-era · limit=1 per task | — | 0.500 " in md
