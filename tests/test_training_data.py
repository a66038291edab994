"""Issue 4: the BC-Protocol and LIMA-style sets, their validators, coverage, and disjointness from CQA-Bench."""

import json
from collections import Counter

import pytest

from cqa_tasks.textsim import shared_long_ngrams
from cqa_train import annotations, coverage
from cqa_train.cli import coverage_report

BC = annotations.load(annotations.BC_FILE, "bc")
LIMA = annotations.load(annotations.LIMA_FILE, "sft")


def test_bc_set_counts_and_balance():
    assert len(BC) >= 96
    zh = sum(r["lang"] == "zh" for r in BC)
    assert zh / len(BC) >= 0.40
    appreciation = sum(r["kind"] == "appreciation" for r in BC)
    assert appreciation >= len(BC) / 2 and appreciation < len(BC)
    shares = coverage.tagged_shares(BC)["steps"]
    assert shares["audience"] + shares["reality"] >= 0.5
    assert shares["craft"] <= 1 / 3
    assert all(r["id"].startswith(f"bc-{r['lang']}-") for r in BC)


def test_lima_set_same_size_no_reasoning():
    assert len(LIMA) == len(BC)
    assert all("reasoning" not in r for r in LIMA)
    assert {r["category"] for r in LIMA} == set(annotations.LIMA_CATEGORIES)
    assert sum(r["lang"] == "zh" for r in LIMA) / len(LIMA) >= 0.40


def test_stratified_subset_keeps_shares_and_nests():
    counts = Counter(annotations.stratum(r) for r in BC)
    previous: set[int] = set()
    for n in (25, 50, 75):
        chosen = annotations.stratified_indices(BC, n, seed=0)
        assert len(chosen) == len(set(chosen)) == n and chosen == sorted(chosen)
        got = Counter(annotations.stratum(BC[i]) for i in chosen)
        for key, size in counts.items():  # each (lang, kind) keeps its share to within one record
            assert abs(got[key] - n * size / len(BC)) <= 1, (n, key, got[key])
        assert previous <= set(chosen)  # nested: a larger subset only adds records
        previous = set(chosen)
    assert annotations.stratified_indices(BC, 25, seed=0) == annotations.stratified_indices(BC, 25, seed=0)
    assert annotations.stratified_indices(BC, 25, seed=1) != annotations.stratified_indices(BC, 25, seed=0)
    assert annotations.stratified_indices(BC, 500) == list(range(len(BC)))
    with pytest.raises(ValueError, match="positive"):
        annotations.stratified_indices(BC, 0)


def test_stratified_subset_by_hand():
    records = [{"lang": "en", "kind": "a"}] * 6 + [{"lang": "zh", "kind": "a"}] * 2
    chosen = annotations.stratified_indices(records, 4, seed=3)
    assert sum(i < 6 for i in chosen) == 3 and sum(i >= 6 for i in chosen) == 1  # 4 x 6/8, 4 x 2/8


def test_response_only_is_derived_not_stored():
    r = BC[0]
    cot = annotations.to_sft(r, "cot")
    ablation = annotations.to_sft(r, "response_only")
    assert cot.prompt == ablation.prompt == r["task"]
    assert ablation.response == r["response"]
    assert cot.response.endswith(r["response"].strip())
    assert r["reasoning"][0]["thought"].strip() in cot.response
    assert r["reasoning"][0]["thought"].strip() not in ablation.response
    assert not list(annotations.data_dir().glob("*response_only*"))
    with pytest.raises(ValueError, match="unknown SFT variant"):
        annotations.to_sft(r, "tldr")


def _lines(records):
    return [json.dumps(r, ensure_ascii=False) for r in records]


@pytest.mark.parametrize(
    "mutate, line, field, words",
    [
        (lambda rs: rs[1].pop("response"), 2, "response", "missing required field"),
        (lambda rs: rs[0].update(kind="critique"), 1, "kind", "'critique' is not one of"),
        (lambda rs: rs[2]["reasoning"][1].update(aspect="style"), 3, "reasoning[1].aspect", "'style' is not one of"),
        (lambda rs: rs[2].update(reasoning=[]), 3, "reasoning", "non-empty list"),
        (lambda rs: rs[3].update(id=rs[0]["id"]), 4, "id", "duplicate id"),
        (lambda rs: rs[1]["dialogue_roles"].pop("engineer"), 2, "dialogue_roles", "'engineer'"),
    ],
)
def test_bc_validator_names_file_line_field(mutate, line, field, words):
    records = json.loads(json.dumps(BC[:4]))
    mutate(records)
    _, problems = annotations.validate_lines(_lines(records), "bc.jsonl", "bc")
    assert len(problems) == 1, problems
    assert str(problems[0]).startswith(f"bc.jsonl:{line}: {field}: ")
    assert words in str(problems[0])


def test_sft_validator_and_cli(tmp_path):
    from cqa_tasks.cli import main

    records = json.loads(json.dumps(LIMA[:3]))
    records[1]["response"] = ""
    bad = tmp_path / "sft.jsonl"
    bad.write_text("\n".join(_lines(records)) + "\n{broken", encoding="utf-8")
    assert main(["train", "validate", str(bad)]) == 1
    assert main(["train", "validate", str(annotations.data_dir() / annotations.BC_FILE)]) == 0


def test_tagger_is_transparent_and_better_than_chance():
    assert coverage.tag("The reader is five years old and hears it aloud", "en") == "audience"
    assert coverage.tag("宋代的夜市不可能有玉米，这是历史常识", "zh") == "reality"
    assert coverage.tag("Lovely.", "en") == coverage.NONE
    quality = coverage.tagger_quality(BC)
    assert quality["_all"]["accuracy"] > 0.25
    for a in annotations.ASPECTS:
        assert 0.0 <= quality[a]["precision"] <= 1.0 and quality[a]["n"] > 0


def test_coverage_report_bc_vs_lima(tmp_path):
    from cqa_train.cli import plot_coverage

    report, data = coverage_report([annotations.BC_FILE, annotations.LIMA_FILE])
    bc_tags = data["shares"]["bc_protocol_v1.jsonl (tags)"]
    assert bc_tags == pytest.approx(coverage.tagged_shares(BC)["steps"] | {"none": 0.0})
    lima = data["shares"]["lima_style_v1.jsonl (tagger)"]
    bc_tagger = data["shares"]["bc_protocol_v1.jsonl (tagger)"]
    # the data-bias finding, like for like: the expert set covers audience and reality far more
    assert bc_tagger["audience"] + bc_tagger["reality"] > 2 * (lima["audience"] + lima["reality"])
    assert "precision" in report and "100 records" in report
    png = plot_coverage(data["shares"], tmp_path / "coverage.png")
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_training_data_disjoint_from_benchmark():
    from cqa_tasks.data import BENCH_FILE, load_records

    bench = load_records(BENCH_FILE)
    bench_texts = [t for r in bench for t in (r["original"], r["degraded"], *r["constraints"].values())]
    train_texts = [r["task"] for r in BC] + [r["response"] for r in BC] + [s["thought"] for r in BC for s in r["reasoning"]]
    train_texts += [r["prompt"] for r in LIMA] + [r["response"] for r in LIMA]
    shared = shared_long_ngrams(bench_texts, train_texts, n=30)
    assert not shared, f"{len(shared)} long n-grams shared, e.g. {sorted(shared)[:3]}"
    bench_ids = {r["id"] for r in bench}
    assert not bench_ids & {r["id"] for r in BC + LIMA}
