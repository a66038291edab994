"""`cqa bench audit`: nuisance shares, bands and flags by hand; the request cache; the command."""

from __future__ import annotations

import json
import math

import pytest

from cqa_tasks import audit
from cqa_tasks.audit import Bands, PairDiffs, pair_diffs

LN2 = math.log(2)


def _item(k: int, group: str = "literary", lang: str = "en", dim: str = "ethos", longer: bool = True) -> dict:
    original = "the grey cat sat by the door" + (" again" if longer else "")
    return {"id": f"{group}-{lang}-{dim}-{k:02d}", "group": group, "lang": lang, "dimension": dim,
            "constraints": {"intent": "a cat", "audience": "children", "reality": "a house"},
            "original": original, "degraded": "the grey cat sat by the door now"}  # fmt: skip


def test_pair_diffs_in_bits_and_nats():
    d = pair_diffs(ll_c_o=-10.0, ll_u_o=-20 * LN2, ll_c_d=-12.0, ll_u_d=-23 * LN2)
    assert d.delta_s == pytest.approx(-3.0)  # S(o) = 20 bits, S(d) = 23 bits: the twin is more surprising
    assert d.delta_ll_c == pytest.approx(2.0)


def test_shares_flags_and_worst_items_by_hand():
    # one cell of 12 pairs: the original is more surprising in 3 (0.25: below 0.35), more probable
    # under Y in 6 (0.5), longer in 12 of 12 ("again" vs "now": 1.0 > 0.65), overlap ties (0.5)
    items = [_item(k) for k in range(12)]
    diffs = {"r": {it["id"]: PairDiffs(delta_s=(1.0 + k if k < 3 else -1.0 - k), delta_ll_c=(1.0 if k % 2 else -1.0))
                   for k, it in enumerate(items)}}  # fmt: skip
    result = audit.audit(items, diffs, Bands(), n_worst=2)
    cell, group = result.cells
    assert cell.key == ("literary", "en", "ethos") and group.key == ("literary",)
    assert cell.shares == {"s_up:r": 0.25, "c_up:r": 0.5, "longer": 1.0, "overlap": 0.5}
    assert cell.flagged == ["s_up:r", "longer"] and not result.passed
    # s_up is too low: the items where the twin is most surprising come first
    assert [i for i, _ in result.worst[cell.name]["s_up:r"]] == [items[11]["id"], items[10]["id"]]
    text = audit.render(result)
    assert "| literary · en · ethos | 12 | 0.25 ! | 0.50 | 1.00 ! | 0.50 | 0.35–0.65 |" in text
    assert "FAILED: 4 share(s) outside their band in 2 cell(s)." in text  # the group row fails the same two


def test_small_cells_are_shown_but_not_held_and_bands_are_options():
    items = [_item(k, group="factual") for k in range(4)] + [_item(k + 4, group="factual", longer=False) for k in range(4)]
    result = audit.audit(items, {}, Bands(group=(0.0, 1.0)))
    cell = result.cells[0]
    assert cell.n == 8 and cell.band is None and not cell.flagged
    assert cell.shares["longer"] == 0.5
    assert result.passed and "PASSED" in audit.render(result)
    assert not audit.audit(items, {}, Bands(group=(0.6, 0.7))).passed


def test_the_command_flags_v1_on_text_nuisances_alone(capsys, tmp_path):
    from cqa_tasks.cli import main
    from cqa_tasks.data import data_dir

    out = tmp_path / "audit.json"
    code = main(["bench", "audit", str(data_dir() / "cqa_bench_v1.jsonl"), "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 1 and "literary · en · ethos | 24 | 0.08 !" in text
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert payload["passed"] is False and len(payload["items"]) == 228
    assert main(["bench", "audit", str(data_dir() / "cqa_bench_v1.jsonl"), "--cell-band", "0.7", "0.2"]) == 2


def test_import_run_fills_the_cache_from_samples(tmp_path):
    from pathlib import Path

    from cqa_tasks import prompts
    from cqa_tasks.reader_cache import import_run, loglikelihoods, request_key

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    run = Path(__file__).parent / "data" / "surprise_era" / "hash-lm-a"
    added = import_run(run, model, tmp_path / "cache")
    rows = [json.loads(line) for f in sorted(run.glob("samples_cqa_creative_*.jsonl")) for line in f.read_text().splitlines()]
    assert added == 6 * 32  # 32 items, six requests each (foreign Y' included)
    doc, record = rows[0]["doc"], rows[0]["cqa_item"]
    requests = prompts.pair_requests(doc)
    # every request is in the cache now: nothing is scored (no model is loaded for a bare config.json)
    assert loglikelihoods(model, requests, tmp_path / "cache") == [
        record[k] for k in ("ll_c_orig", "ll_u_orig", "ll_c_degr", "ll_u_degr", "ll_cf_orig", "ll_cf_degr")
    ]
    assert len({request_key(r) for r in requests}) == 6


@pytest.mark.slow
def test_cache_scores_each_request_once_with_the_tasks_numbers(smollm2_dir, mini_records, tmp_path, monkeypatch):
    from cqa_tasks import prompts, scoring
    from cqa_tasks.reader_cache import loglikelihoods

    requests = [r for item in mini_records[:2] for r in prompts.pair_requests(item)]
    first = loglikelihoods(smollm2_dir, requests, tmp_path)
    direct = scoring.Reader(str(smollm2_dir)).loglikelihood(requests)
    assert first == pytest.approx(direct, abs=1e-3)

    def no_model(*args, **kwargs):
        raise AssertionError("cached requests must not load the model")

    monkeypatch.setattr(scoring, "Reader", no_model)
    assert loglikelihoods(smollm2_dir, requests, tmp_path) == first
