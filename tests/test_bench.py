"""Issue 3: CQA-Bench v1 quality checks beyond the schema, and the data card's claims."""

import hashlib
import re
from collections import Counter

import pytest

from cqa_tasks.cli import composition_table, main
from cqa_tasks.data import BENCH_FILE, data_dir, load_records, task_dir
from cqa_tasks.metric import constraint_overlap, has_cjk
from cqa_tasks.schema import CONSTRAINT_SOURCES, DIMENSIONS
from cqa_tasks.textsim import near_duplicates

RECORDS = load_records(BENCH_FILE, strict=True)
CARD = (task_dir() / "DATACARD.md").read_text(encoding="utf-8")


def test_validate_strict_passes():
    assert main(["bench", "validate", "--strict", str(data_dir() / BENCH_FILE)]) == 0


def test_counts_meet_the_design():
    lit = [r for r in RECORDS if r["group"] == "literary"]
    fac = [r for r in RECORDS if r["group"] == "factual"]
    assert len(lit) >= 160 and len(fac) >= 48
    for group in (lit, fac):
        assert sum(r["lang"] == "zh" for r in group) / len(group) >= 0.40
    by_dim = Counter(r["dimension"] for r in lit)
    assert all(by_dim[d] >= 40 for d in DIMENSIONS)
    by_dim_source = Counter((r["dimension"], r["constraint_source"]) for r in lit)
    assert all(by_dim_source[(d, s)] >= 10 for d in DIMENSIONS for s in CONSTRAINT_SOURCES)
    assert {r["genre"] for r in fac} == {"science", "history", "how-to", "news"}


def test_ids_unique_and_well_formed():
    ids = [r["id"] for r in RECORDS]
    assert len(ids) == len(set(ids))
    for r in RECORDS:
        prefix = {"literary": "lit", "factual": "fac"}[r["group"]]
        assert re.fullmatch(rf"{prefix}-{r['lang']}-{r['dimension']}-\d{{4}}", r["id"]), r["id"]


def test_length_ratio_and_cjk():
    for r in RECORDS:
        assert 0.85 <= len(r["degraded"]) / len(r["original"]) <= 1.15, r["id"]
        if r["lang"] == "zh":
            assert has_cjk(r["original"]) and has_cjk(r["degraded"]) and has_cjk(r["constraints"]["intent"]), r["id"]
        else:
            assert not has_cjk(r["original"]), r["id"]


def test_no_near_duplicate_passages_across_items():
    originals = {r["id"]: r["original"] for r in RECORDS}
    assert near_duplicates(originals, n=5, threshold=0.3) == []
    twins = {r["id"]: r["degraded"] for r in RECORDS}
    assert near_duplicates(twins, n=5, threshold=0.3) == []


def test_twins_do_not_win_by_echoing_the_constraints():
    gaps = [constraint_overlap(r["degraded"], r["constraints"]) - constraint_overlap(r["original"], r["constraints"]) for r in RECORDS]
    assert max(abs(g) for g in gaps) <= 0.065
    # the overlap baseline must not solve the literary group
    lit = [r for r in RECORDS if r["group"] == "literary"]
    wins = sum((constraint_overlap(r["original"], r["constraints"]) > constraint_overlap(r["degraded"], r["constraints"])) for r in lit)
    assert 0.35 <= wins / len(lit) <= 0.65


def test_datacard_composition_and_hash_match_the_file():
    block = CARD.split("<!-- composition:begin -->")[1].split("<!-- composition:end -->")[0].strip()
    assert block == composition_table(RECORDS).strip()
    sha = hashlib.sha256((data_dir() / BENCH_FILE).read_bytes()).hexdigest()
    assert sha in CARD


@pytest.mark.parametrize("dim", DIMENSIONS)
def test_datacard_has_an_example_per_dimension_that_exists(dim):
    ids = re.findall(rf"`(lit-(?:en|zh)-{dim}-\d{{4}})`", CARD)
    assert ids and ids[0] in {r["id"] for r in RECORDS}


def test_bench_stats_cli(capsys):
    assert main(["bench", "stats", BENCH_FILE]) == 0
    out = capsys.readouterr().out
    assert "literary: 176 pairs" in out and "| literary | en | ethos | 8 | 8 | 8 | 24 |" in out


def test_datacard_balance_table_is_the_audit_of_the_file():
    """The card's v1.1 balance table is `cqa bench audit`'s output for this file: recomputed here from
    the file (length, overlap) and the shipped per-item reader differences, which must be of this file."""
    import json

    from cqa_tasks import audit

    payload = json.loads((data_dir() / "cqa_bench_v1_1.audit.json").read_text(encoding="utf-8"))
    sha = hashlib.sha256((data_dir() / BENCH_FILE).read_bytes()).hexdigest()
    assert list(payload["files"].values()) == [sha]
    rows = payload["items"]
    assert set(rows) == {r["id"] for r in RECORDS}
    for r in RECORDS:  # the shipped differences were computed on these very texts
        for key, value in audit.text_differences(r).items():
            assert rows[r["id"]][key] == pytest.approx(value)
    diffs = {
        reader: {i: audit.PairDiffs(row[f"s_up:{reader}"], row[f"c_up:{reader}"]) for i, row in rows.items()}
        for reader in payload["readers"]
    }
    assert payload["readers"] == ["smollm2", "qwen2.5-coder-1.5b"]
    result = audit.audit(RECORDS, diffs)
    assert result.passed
    block = CARD.split("<!-- audit:begin -->")[1].split("<!-- audit:end -->")[0].strip()
    assert block == audit.render(result).strip()
