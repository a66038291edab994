"""Issue 5: recipes, masked-prompt loss, run outputs loadable by lm-eval, resume after SIGKILL,
2-process accelerate, and bad input refused before training."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cqa_train import recipe as recipes
from cqa_train.annotations import SFTExample
from cqa_train.run_state import TEST_KILL_AFTER_CHECKPOINT
from cqa_train.trainer import IGNORE_INDEX, PLAIN_TEMPLATE, tokenize_example

ROOT = Path(__file__).resolve().parents[1]
TINY = ["max_length=256", "batch_size=2", "checkpoint_every_steps=1", "lora.dropout=0.0"]


# ------------------------------------------------------------------------------ recipes (fast)
def test_shipped_recipes_load():
    names = recipes.shipped_recipes()
    for name in ("cqa_cot", "lima_style", "response_only", "cqa_cot_qwen7b_gpu", "lima_style_qwen7b_gpu", "response_only_qwen7b_gpu"):
        assert name in names
    r = recipes.load("cqa_cot")
    assert (r.base_model, r.variant, r.lora.target_modules, r.save_every_epoch) == ("smollm2", "cot", "all-linear", True)
    assert recipes.load("response_only").variant == "response_only"
    assert recipes.load("lima_style").data == ["lima_style_v1.jsonl"]


def test_overrides_dotted_and_typed():
    r = recipes.load("cqa_cot", ["lora.rank=16", "epochs=2", "lr=1e-3", "output_dir=/tmp/x"])
    assert (r.lora.rank, r.epochs, r.lr, r.output_dir) == (16, 2, 1e-3, "/tmp/x")


@pytest.mark.parametrize(
    "overrides, words",
    [
        (["learning_rate=1e-3"], "unknown recipe key 'learning_rate'"),
        (["lora.rnk=4"], "unknown recipe key 'lora.rnk'"),
        (["variant=cot_plus"], "variant 'cot_plus'"),
        (["epochs=0"], "epochs must be a positive integer"),
        (["epochs"], "not key=value"),
        (["lr=fast"], "lr must be float"),
        (["subset=0"], "subset must be a positive integer"),
        (["subset=half"], "subset must be a positive integer"),
    ],
)
def test_bad_recipe_keys_are_one_clear_error(overrides, words):
    with pytest.raises(recipes.RecipeError, match=words.replace("(", r"\(")):
        recipes.load("cqa_cot", overrides)


def test_subset_samples_both_languages_and_is_recorded():
    from cqa_train.trainer import load_examples

    first = load_examples(recipes.load("cqa_cot", ["limit=25"]))[0]
    assert {e.lang for e in first} == {"en"}  # the shipped file is grouped: why `limit` is no ablation
    sample = load_examples(recipes.load("cqa_cot", ["subset=25"]))[0]
    assert len(sample) == 25 and {e.lang for e in sample} == {"en", "zh"}
    assert 9 <= sum(e.lang == "zh" for e in sample) <= 12  # 44 % of 25, to within one per stratum
    same = load_examples(recipes.load("response_only", ["subset=25"]))[0]
    assert [e.id for e in same] == [e.id for e in sample]  # both BC recipes train on the same records
    assert recipes.load("cqa_cot", ["subset=25"]).to_dict()["subset"] == 25  # in the run manifest


def test_run_from_before_a_new_recipe_key_still_resumes():
    from cqa_train.run_state import comparable_recipe as _comparable

    now = recipes.load("cqa_cot").to_dict()
    older = {k: v for k, v in now.items() if k != "subset"}  # a manifest written before `subset` existed
    assert _comparable(older) == _comparable(now)
    assert _comparable(older) != _comparable(recipes.load("cqa_cot", ["subset=25"]).to_dict())


def test_unknown_key_in_yaml_file_names_the_file(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("name: x\nbase_model: smollm2\ndata: [bc_protocol_v1.jsonl]\nepoch: 3\n")
    with pytest.raises(recipes.RecipeError, match=f"{f}: unknown recipe key 'epoch'"):
        recipes.load(str(f))


# ------------------------------------------------------------------- masked prompt (hand-made)
class CharTokenizer:
    """One token per character; ids are code points. Enough to check masking by hand."""

    eos_token_id = 0
    chat_template = None

    def encode(self, text, add_special_tokens=True):
        return [ord(c) for c in text]


def test_masked_prompt_labels_by_hand():
    ex = SFTExample("x", "en", prompt="Hi?", response="Yo")
    feats = tokenize_example(CharTokenizer(), ex, chat=False, max_length=999)
    prompt = PLAIN_TEMPLATE.format(prompt="Hi?")
    assert feats["input_ids"] == [ord(c) for c in prompt] + [ord("Y"), ord("o"), 0]
    assert feats["labels"] == [IGNORE_INDEX] * len(prompt) + [ord("Y"), ord("o"), 0]
    # truncation that leaves no response token drops the example
    assert tokenize_example(CharTokenizer(), ex, chat=False, max_length=len(prompt)) is None


def test_each_run_log_holds_its_own_run_only(tmp_path):
    import logging

    from cqa_train.run_state import RUN_LOGGERS, log_to

    first, second = tmp_path / "a.log", tmp_path / "b.log"
    try:
        log_to(first)
        logging.getLogger("cqa_train").warning("run a")
        log_to(second)  # a second run in the same process (cqa study trains several)
        logging.getLogger("transformers").warning("run b")
    finally:
        for name in RUN_LOGGERS:
            for h in [h for h in logging.getLogger(name).handlers if h.get_name() == "cqa-run-log"]:
                logging.getLogger(name).removeHandler(h)
                h.close()
    assert "run a" in first.read_text() and "run b" not in first.read_text()
    assert "run b" in second.read_text() and second.read_text().count("run b") == 1


# -------------------------------------------------------------------------- real model (slow)
def _cqa(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "cqa_tasks.cli", *args], capture_output=True, text=True,
                          env=os.environ | (env or {}), **kw)


@pytest.mark.slow
def test_loss_is_on_response_tokens_only(smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32).eval()
    ex = SFTExample("x", "en", prompt="Name a colour.", response="Teal, like a duck's wing.")
    feats = tokenize_example(tok, ex, chat=True, max_length=512)
    ids, labels = torch.tensor([feats["input_ids"]]), torch.tensor([feats["labels"]])
    n_prompt = sum(t == IGNORE_INDEX for t in feats["labels"])
    assert tok.decode(feats["input_ids"][n_prompt:]).startswith("Teal, like a duck's wing.")
    assert "Name a colour." in tok.decode(feats["input_ids"][:n_prompt])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=labels).loss
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    targets = ids[0, 1:]
    manual = -logp[torch.arange(n_prompt - 1, len(targets)), targets[n_prompt - 1:]].mean()
    assert float(loss) == pytest.approx(float(manual), abs=1e-4)


@pytest.mark.slow
def test_two_step_run_outputs_load_in_lm_eval(smollm2_dir, tmp_path, mini_path):
    run = tmp_path / "run"
    proc = _cqa("train", "cqa_cot", f"output_dir={run}", "max_steps=2", "limit=4", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["global_step"] == 2
    assert [s["step"] for s in manifest["loss_per_step"]] == [1, 2]
    assert all(v for v in manifest["data_sha256"].values()) and manifest["seed"] == 0
    assert {"torch", "transformers", "peft"} <= set(manifest["versions"])
    assert manifest["base_model"]["embedded"]["name"] == "smollm2" and manifest["wall_seconds"] > 0
    final = run / "final"
    assert (final / "adapter" / "adapter_config.json").is_file() and (final / "merged" / "config.json").is_file()
    assert (run / "train.log").is_file() and (run / "train_log.jsonl").read_text().count("\n") >= 2

    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(mini_path)})
    common = dict(tasks=["cqa_custom"], task_manager=tm, device="cpu", batch_size=4, limit=1, bootstrap_iters=0)
    merged = simple_evaluate(model="hf", model_args={"pretrained": str(final / "merged")}, **common)
    adapter = simple_evaluate(model="hf", model_args={"pretrained": str(smollm2_dir), "peft": str(final / "adapter")}, **common)
    base = simple_evaluate(model="hf", model_args={"pretrained": str(smollm2_dir)}, **common)
    i_merged = merged["results"]["cqa_custom"]["i_orig,none"]
    assert adapter["results"]["cqa_custom"]["i_orig,none"] == pytest.approx(i_merged, abs=1e-2)
    assert base["results"]["cqa_custom"]["i_orig,none"] != pytest.approx(i_merged, abs=1e-6)

    # the same command again: finished runs are not retrained
    again = _cqa("train", "cqa_cot", f"output_dir={run}", "max_steps=2", "limit=4", *TINY)
    assert again.returncode == 0 and "already finished" in again.stderr
    # a different recipe into the same dir is refused, nothing overwritten
    other = _cqa("train", "cqa_cot", f"output_dir={run}", "max_steps=3", "limit=4", *TINY)
    assert other.returncode == 1 and "holds a different run (changed: max_steps)" in other.stderr


def _adapter_tensors(run: Path):
    from safetensors.torch import load_file

    return load_file(str(run / "final" / "adapter" / "adapter_model.safetensors"))


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(smollm2_dir, tmp_path):
    args = ["max_steps=4", "limit=8", *TINY]
    straight = tmp_path / "straight"
    assert _cqa("train", "cqa_cot", f"output_dir={straight}", *args).returncode == 0

    killed = tmp_path / "killed"
    # killed by the test-only hook right after checkpoint 2 is saved: a deterministic point, no polling
    proc = _cqa("train", "cqa_cot", f"output_dir={killed}", *args, env={TEST_KILL_AFTER_CHECKPOINT: "2"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert (killed / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (killed / "checkpoints" / "checkpoint-3").exists()
    assert not (killed / "final").exists(), "the run was meant to die before finishing"
    assert json.loads((killed / "manifest.json").read_text())["status"] == "running"
    resumed = _cqa("train", "cqa_cot", f"output_dir={killed}", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["resumes"] == 1 and manifest["status"] == "finished"

    a, b = _adapter_tensors(straight), _adapter_tensors(killed)
    assert a.keys() == b.keys()
    import torch

    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


@pytest.mark.slow
def test_pause_after_epoch_then_continue_matches_uninterrupted_run(smollm2_dir, tmp_path):
    # 4 examples, batch 2: 2 steps an epoch; no step checkpoints, so the pause's own checkpoint is
    # what the second call resumes from
    args = ["epochs=2", "limit=4", *TINY, "checkpoint_every_steps=1000"]
    straight = tmp_path / "straight"
    assert _cqa("train", "cqa_cot", f"output_dir={straight}", *args).returncode == 0

    paused = tmp_path / "paused"
    first = _cqa("train", "cqa_cot", f"output_dir={paused}", *args, "--stop-after-epoch", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "paused after epoch 1 at step 2 of 4" in first.stderr
    manifest = json.loads((paused / "manifest.json").read_text())
    assert manifest["status"] == "paused" and set(manifest["exports"]) == {"epoch-1"}
    assert (paused / "epoch-1" / "merged" / "config.json").is_file()
    assert not (paused / "epoch-2").exists() and not (paused / "final").exists()

    again = _cqa("train", "cqa_cot", f"output_dir={paused}", *args, "--stop-after-epoch", "1")
    assert again.returncode == 0 and "already has epoch 1" in again.stderr and "resuming" not in again.stderr

    rest = _cqa("train", "cqa_cot", f"output_dir={paused}", *args)
    assert rest.returncode == 0, rest.stderr[-3000:]
    assert "resuming from" in rest.stderr and "checkpoint-2" in rest.stderr
    manifest = json.loads((paused / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["global_step"] == 4
    assert [s["step"] for s in manifest["loss_per_step"]] == [1, 2, 3, 4]

    import torch
    from safetensors.torch import load_file

    for epoch in ("epoch-1", "epoch-2"):
        a = load_file(str(straight / epoch / "adapter" / "adapter_model.safetensors"))
        b = load_file(str(paused / epoch / "adapter" / "adapter_model.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            assert torch.allclose(a[k], b[k], atol=1e-5), (epoch, k)


@pytest.mark.slow
def test_accelerate_two_cpu_processes(smollm2_dir, tmp_path):
    run = tmp_path / "ddp"
    # --multi_gpu selects accelerate's torch.distributed launcher; on a CPU-only machine the Trainer
    # then runs DDP over gloo (`--cpu` alone would start a single process).
    cmd = [str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "cqa_tasks.cli",
           "train", "cqa_cot", f"output_dir={run}", "max_steps=2", "limit=8", *TINY]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["global_step"] == 2
    state = json.loads((run / "checkpoints" / "checkpoint-2" / "trainer_state.json").read_text())
    # 8 examples, batch 2 per process: two processes finish the epoch in 2 steps (one would need 4),
    # and both processes' tokens are counted
    assert state["train_batch_size"] == 2 and state["global_step"] == 2
    assert manifest["exports"]["epoch-1"]["global_step"] == 2
    assert state["num_input_tokens_seen"] == 2 * 2 * 2 * 256
    assert (run / "final" / "merged" / "config.json").is_file()


@pytest.mark.parametrize(
    "setup, words",
    [
        (lambda tmp: ["data=[nothere.jsonl]"], "training data file not found: nothere.jsonl"),
        (lambda tmp: [f"data=[{tmp / 'bad.jsonl'}]"], "bad.jsonl:2: reasoning[0].aspect:"),
        (lambda tmp: [f"base_model={tmp / 'notlm'}"], "model type 't5' is not a causal language model"),
        (lambda tmp: [f"base_model={tmp / 'mlm'}"], "architecture BertForMaskedLM is not a causal language model"),
        (lambda tmp: ["base_model=/does/not/exist"], "nor a local HF dir"),
    ],
)
def test_bad_input_is_one_clear_error_before_training(tmp_path, setup, words):
    from cqa_train.annotations import BC_FILE, data_dir

    lines = (data_dir() / BC_FILE).read_text(encoding="utf-8").splitlines()[:2]
    rec = json.loads(lines[1])
    rec["reasoning"][0]["aspect"] = "vibes"
    (tmp_path / "bad.jsonl").write_text(lines[0] + "\n" + json.dumps(rec) + "\n")
    (tmp_path / "notlm").mkdir()
    (tmp_path / "notlm" / "config.json").write_text(json.dumps({"model_type": "t5"}))
    (tmp_path / "mlm").mkdir()
    (tmp_path / "mlm" / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    run = tmp_path / "run"
    proc = _cqa("train", "cqa_cot", f"output_dir={run}", *setup(tmp_path), "max_steps=1")
    assert proc.returncode == 1
    assert words in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not run.exists(), "nothing may be written before the input is known to be good"
