"""LoRA SFT on BC-Protocol (or any prompt/response) data, on transformers' Trainer + peft.

One run directory per recipe:

    <run>/manifest.json            recipe, base model identity, data sha256s, seed, versions, loss per step, wall time
    <run>/train.log, train_log.jsonl
    <run>/checkpoints/checkpoint-N Trainer checkpoints (resume after a crash or SIGKILL)
    <run>/epoch-K/adapter          LoRA adapter       -> lm_eval --model_args pretrained=BASE,peft=<run>/epoch-K/adapter
    <run>/epoch-K/merged           merged HF model    -> lm_eval --model_args pretrained=<run>/epoch-K/merged
    <run>/final                    the last state (a link to the last epoch when training ended on one)

Running the same command again resumes from the last checkpoint; a finished run is reported, not
retrained; a directory holding a different recipe is refused unless `--overwrite`.
Under `accelerate launch` the same code runs data-parallel (Trainer does the work); only the main
process writes the manifest and exports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cqa_train import annotations
from cqa_train.recipe import Recipe, RecipeError

IGNORE_INDEX = -100
PLAIN_TEMPLATE = "### Task\n{prompt}\n\n### Response\n"  # for base models without a chat template
MANIFEST = "manifest.json"
log = logging.getLogger("cqa_train")


# ---------------------------------------------------------------------------------------- inputs
def resolve_base_model(spec: str) -> Path:
    from cqa_tasks import models

    if spec in models.MODELS:
        return models.prepare(spec)
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        raise RecipeError(f"base_model {spec!r}: not an embedded model name ({', '.join(models.MODELS)}) nor a local HF dir with config.json")
    return path.resolve()


def check_causal_lm(path: Path) -> Any:
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    config = AutoConfig.from_pretrained(path)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise RecipeError(f"base_model {path}: model type {config.model_type!r} is not a causal language model")
    # e.g. BERT has a causal-LM class in transformers, but a checkpoint saved as BertForMaskedLM is not one
    architectures = getattr(config, "architectures", None) or []
    if architectures and not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        raise RecipeError(f"base_model {path}: architecture {architectures[0]} is not a causal language model")
    return config


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_examples(recipe: Recipe) -> tuple[list[annotations.SFTExample], dict[str, str]]:
    """All examples of the recipe's data files (validated), and each file's sha256."""
    records, variants, hashes = [], [], {}
    for name in recipe.data:
        path = annotations.resolve(name)
        file_records = annotations.load(path)
        hashes[str(path)] = sha256_file(path)
        variant = recipe.variant if all("reasoning" in r for r in file_records) else "plain"
        records += file_records
        variants += [variant] * len(file_records)
    chosen = range(len(records))
    if recipe.subset:
        chosen = annotations.stratified_indices(records, recipe.subset, recipe.seed)
    examples = [annotations.to_sft(records[i], variants[i]) for i in chosen]
    if recipe.limit:
        examples = examples[: recipe.limit]
    if not examples:
        raise RecipeError(f"recipe {recipe.name}: no training examples in {recipe.data}")
    return examples, hashes


# ------------------------------------------------------------------------------------ formatting
def uses_chat_template(tokenizer, recipe: Recipe) -> bool:
    if recipe.chat_template == "none":
        return False
    has = bool(getattr(tokenizer, "chat_template", None))
    if recipe.chat_template == "required" and not has:
        raise RecipeError(f"recipe {recipe.name}: the tokenizer has no chat template")
    return has


def tokenize_example(tokenizer, example: annotations.SFTExample, chat: bool, max_length: int) -> dict[str, list[int]] | None:
    """input_ids and labels with the prompt masked (IGNORE_INDEX): the loss is on the response only.

    Chat models: the tokenizer's template; the prompt part is the template up to the generation
    prompt. Base models: PLAIN_TEMPLATE then the response and EOS. Returns None if truncation
    to max_length would leave no response token.
    """
    if chat:
        user = [{"role": "user", "content": example.prompt}]
        prompt_text = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        full_text = tokenizer.apply_chat_template(
            user + [{"role": "assistant", "content": example.response}], tokenize=False
        )
        if not full_text.startswith(prompt_text):
            raise RecipeError("the chat template does not extend the prompt with the answer; use chat_template: none")
        prompt_ids = tokenizer.encode(prompt_text, add_special_tokens=False)
        full_ids = tokenizer.encode(full_text, add_special_tokens=False)
    else:
        prompt_ids = tokenizer.encode(PLAIN_TEMPLATE.format(prompt=example.prompt))
        full_ids = prompt_ids + tokenizer.encode(example.response, add_special_tokens=False) + [tokenizer.eos_token_id]
    if full_ids[: len(prompt_ids)] != prompt_ids:  # BPE merged across the boundary: split by length
        full_ids = prompt_ids + full_ids[len(prompt_ids) :]
    full_ids = full_ids[:max_length]
    labels = [IGNORE_INDEX] * min(len(prompt_ids), len(full_ids)) + full_ids[len(prompt_ids) :]
    if all(t == IGNORE_INDEX for t in labels):
        return None
    return {"input_ids": full_ids, "labels": labels}


@dataclass
class PadCollator:
    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n] = torch.tensor(f["input_ids"])
            labels[i, :n] = torch.tensor(f["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


# -------------------------------------------------------------------------------------- manifest
def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for dist in ("cqa", "torch", "transformers", "peft", "accelerate", "datasets", "lm_eval"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def base_identity(path: Path, config: Any) -> dict[str, Any]:
    identity = {"path": str(path), "model_type": config.model_type, "config_sha256": sha256_file(path / "config.json")}
    stamp = path / "cqa_model.json"
    if stamp.is_file():
        identity["embedded"] = json.loads(stamp.read_text())
    weights = sorted(path.glob("*.safetensors"))
    identity["weights_bytes"] = sum(w.stat().st_size for w in weights)
    return identity


def read_manifest(run: Path) -> dict | None:
    f = run / MANIFEST
    return json.loads(f.read_text()) if f.is_file() else None


def write_manifest(run: Path, manifest: dict) -> None:
    tmp = run / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(run / MANIFEST)  # atomic: a crash never leaves a half-written manifest


def _comparable(recipe: dict) -> dict:
    # output_dir may be spelled differently (relative vs absolute) for the same run; a key added to
    # Recipe after a run was started is read at its default, so the run still resumes
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe) if f.default is not dataclasses.MISSING}
    return {k: v for k, v in (defaults | recipe).items() if k not in ("output_dir", "notes")}


# --------------------------------------------------------------------------------------- exports
def export_adapter(model, tokenizer, target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def merge_adapter(base_path: Path, adapter: Path, target: Path, dtype: str) -> None:
    """Base + LoRA merged into a plain HF directory (loadable with lm_eval `pretrained=`)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(adapter).save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


# ------------------------------------------------------------------------------------------ main
RUN_LOGGERS = ("cqa_train", "transformers", "peft")


def _log_to(path: Path) -> None:
    """Send the run's log records to `path`, and no longer to an earlier run's file: one process may
    train several runs (cqa study), and each train.log must hold its own run only."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("cqa-run-log")
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "cqa-run-log"]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)


def _callbacks(run: Path, tokenizer, manifest: dict, started: float, stop_after_epoch: int | None = None):
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class ProgressAndLog(TrainerCallback):
        """A bar with loss, tokens/s and ETA; every log event also goes to train_log.jsonl."""

        def on_train_begin(self, args, state, control, **kw):
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train", unit="step",
                            disable=not state.is_world_process_zero, dynamic_ncols=True)
            self.t0, self.tokens0 = time.time(), state.num_input_tokens_seen

        def on_step_end(self, args, state, control, **kw):
            self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs:
                return
            elapsed = max(1e-9, time.time() - self.t0)
            tok_s = (state.num_input_tokens_seen - self.tokens0) / elapsed
            if "loss" in logs:
                self.bar.set_postfix(loss=f"{logs['loss']:.4f}", tok_s=f"{tok_s:.0f}")
            event = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), "tokens_seen": state.num_input_tokens_seen, **logs}
            with (run / "train_log.jsonl").open("a") as f:
                f.write(json.dumps(event) + "\n")
            log.info("step %s: %s", state.global_step, {k: v for k, v in logs.items()})

        def on_epoch_end(self, args, state, control, model=None, **kw):
            epoch = round(state.epoch or 0)
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                # every rank stops; the checkpoint saved here is where the next call resumes
                control.should_save = True
                control.should_training_stop = True
            if not state.is_world_process_zero:
                return
            if manifest["recipe"]["save_every_epoch"] and epoch >= 1:
                export_adapter(model, tokenizer, run / f"epoch-{epoch}" / "adapter")
                manifest["exports"][f"epoch-{epoch}"] = {"global_step": state.global_step, "epoch": epoch}
                manifest["loss_per_step"] = _losses(state.log_history)
                manifest["wall_seconds"] = manifest["wall_seconds_before"] + time.time() - started
                write_manifest(run, manifest)

        def on_train_end(self, args, state, control, **kw):
            self.bar.close()

    return [ProgressAndLog()]


def _losses(history: list[dict]) -> list[dict]:
    return [{"step": h["step"], "loss": h["loss"], "epoch": h.get("epoch")} for h in history if "loss" in h]


def merge_exports(run: Path, base_path: Path, names: list[str], dtype: str) -> None:
    """A merged HF dir beside every exported adapter that lacks one (after a crash too)."""
    for name in names:
        d = run / name
        if not (d / "merged" / "config.json").is_file():
            print(f"cqa train: merging {d.name}", file=sys.stderr)
            merge_adapter(base_path, d / "adapter", d / "merged", dtype)


def train(recipe: Recipe, overwrite: bool = False, stop_after_epoch: int | None = None) -> Path:
    """Run (or resume, or skip if finished) the recipe. Returns the run directory.

    `stop_after_epoch=K` pauses the run once epoch K is exported and merged, with a checkpoint there;
    the same call without it (or with a later K) continues the same run, so its epochs equal an
    uninterrupted run's (the study evaluates epoch K before training K+1).
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.trainer_utils import get_last_checkpoint

    rank = int(os.environ.get("RANK", "0"))
    main_process = rank == 0
    run = recipe.resolved_output_dir().resolve()

    # --- every check before any training (bad input fails here, on every rank)
    examples, data_hashes = load_examples(recipe)
    base_path = resolve_base_model(recipe.base_model)
    config = check_causal_lm(base_path)
    previous = read_manifest(run)
    if previous and overwrite and main_process:
        shutil.rmtree(run)
        previous = None
    if previous:
        was, now = _comparable(previous["recipe"]), _comparable(recipe.to_dict())
        if was != now:
            changed = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
            raise RecipeError(f"{run} holds a different run (changed: {', '.join(changed)}); choose another output_dir or pass --overwrite")
        if previous.get("data_sha256") != data_hashes:
            raise RecipeError(f"{run} was trained on different data files (sha256 differs); use --overwrite or a new output_dir")
        if previous.get("status") == "finished":
            print(f"cqa train: {recipe.name} already finished: {run} (use --overwrite to train again)", file=sys.stderr)
            return run
        if stop_after_epoch is not None and f"epoch-{stop_after_epoch}" in previous.get("exports", {}):
            if main_process:
                merge_exports(run, base_path, sorted(previous["exports"]), recipe.dtype)
            print(f"cqa train: {recipe.name} already has epoch {stop_after_epoch}: {run}", file=sys.stderr)
            return run
    elif main_process and run.exists() and any(run.iterdir()) and not overwrite:
        raise RecipeError(f"{run} exists and is not a cqa run directory; choose another output_dir")

    if main_process:  # other ranks only read; the main process owns the run directory
        run.mkdir(parents=True, exist_ok=True)
        _log_to(run / "train.log")
        log.setLevel(logging.INFO)

    torch.manual_seed(recipe.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    chat = uses_chat_template(tokenizer, recipe)
    features = [f for ex in examples if (f := tokenize_example(tokenizer, ex, chat, recipe.max_length))]
    if not features:
        raise RecipeError(f"recipe {recipe.name}: every prompt is longer than max_length={recipe.max_length} tokens")
    if len(features) < len(examples):
        log.warning("%d examples dropped: the prompt alone exceeds max_length=%d", len(examples) - len(features), recipe.max_length)

    started = time.time()
    manifest = previous or {
        "recipe": recipe.to_dict(),
        "base_model": base_identity(base_path, config),
        "data_sha256": data_hashes,
        "n_examples": len(features),
        "n_train_tokens": sum(len(f["input_ids"]) for f in features),
        "n_loss_tokens": sum(sum(t != IGNORE_INDEX for t in f["labels"]) for f in features),
        "format": "chat_template" if chat else "plain",
        "seed": recipe.seed,
        "versions": library_versions(),
        "exports": {},
        "wall_seconds": 0.0,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    manifest["status"] = "running"  # also when resuming a paused or killed run
    manifest["wall_seconds_before"] = manifest.get("wall_seconds", 0.0)
    manifest["resumes"] = manifest.get("resumes", -1) + 1
    if main_process:
        write_manifest(run, manifest)

    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=getattr(torch, recipe.dtype))
    lora = LoraConfig(
        r=recipe.lora.rank,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.target_modules,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)

    use_cpu = recipe.device == "cpu" or (recipe.device == "auto" and not torch.cuda.is_available())
    args = TrainingArguments(
        output_dir=str(run / "checkpoints"),
        per_device_train_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.grad_accum,
        learning_rate=recipe.lr,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps,
        warmup_steps=float(recipe.warmup_ratio),  # a float in [0, 1) is a ratio of total steps
        lr_scheduler_type="linear",
        logging_steps=recipe.logging_steps,
        save_strategy="steps",
        save_steps=recipe.checkpoint_every_steps,
        save_total_limit=2,
        seed=recipe.seed,
        data_seed=recipe.seed,
        report_to=[],
        use_cpu=use_cpu,
        ddp_backend="gloo" if use_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        bf16=recipe.dtype == "bfloat16" and not use_cpu,
        disable_tqdm=True,
        remove_unused_columns=False,
        include_num_input_tokens_seen=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=PadCollator(tokenizer.pad_token_id),
        callbacks=_callbacks(run, tokenizer, manifest, started, stop_after_epoch),
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    last = get_last_checkpoint(str(run / "checkpoints")) if (run / "checkpoints").is_dir() else None
    if last:
        log.info("resuming from %s", last)
        print(f"cqa train: resuming from {last}", file=sys.stderr)
    trainer.train(resume_from_checkpoint=last)

    if not trainer.is_world_process_zero():
        return run
    state = trainer.state
    if state.global_step < state.max_steps:  # paused by stop_after_epoch: not finished
        merge_exports(run, base_path, sorted(manifest["exports"]), recipe.dtype)
        manifest.update(global_step=state.global_step, loss_per_step=_losses(state.log_history),
                        wall_seconds=manifest["wall_seconds_before"] + time.time() - started, status="paused")
        write_manifest(run, manifest)
        print(f"cqa train: paused after epoch {round(state.epoch or 0)} at step {state.global_step} of {state.max_steps}: "
              f"{run} (run again to continue)", file=sys.stderr)
        return run
    last_epoch = max((int(k.split("-")[1]) for k in manifest["exports"]), default=None)
    final = run / "final"
    if final.is_symlink() or final.is_file():
        final.unlink()
    shutil.rmtree(final, ignore_errors=True)
    if last_epoch is not None and manifest["exports"][f"epoch-{last_epoch}"]["global_step"] == state.global_step:
        final.symlink_to(f"epoch-{last_epoch}", target_is_directory=True)
    else:
        export_adapter(trainer.model, tokenizer, final / "adapter")
    merge_exports(run, base_path, sorted(manifest["exports"]) + ([] if final.is_symlink() else ["final"]), recipe.dtype)
    manifest.update(
        status="finished",
        global_step=state.global_step,
        loss_per_step=_losses(state.log_history),
        wall_seconds=manifest["wall_seconds_before"] + time.time() - started,
        final={"global_step": state.global_step, "epoch": state.epoch, "path": str(final.resolve())},
    )
    manifest.pop("wall_seconds_before", None)
    write_manifest(run, manifest)
    print(f"cqa train: finished {run}", file=sys.stderr)
    return run
