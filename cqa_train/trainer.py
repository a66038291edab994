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

import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cqa_tasks.data import sha256_of
from cqa_train import annotations
from cqa_train.recipe import Recipe, RecipeError
from cqa_train.run_state import (
    base_identity,
    callbacks,
    comparable_recipe,
    discard_early,
    export_adapter,
    is_stale,
    library_versions,
    log_to,
    losses,
    merge_exports,
    point_at,
    read_manifest,
    write_manifest,
)

IGNORE_INDEX = -100
PLAIN_TEMPLATE = "### Task\n{prompt}\n\n### Response\n"  # for base models without a chat template
log = logging.getLogger("cqa_train")


# ---------------------------------------------------------------------------------------- inputs
def base_model_issues(spec: str) -> list:
    """Why `base_model` is neither an embedded model name nor a local HF dir (nothing is converted)."""
    from cqa_tasks import models
    from cqa_tasks.checks import Issue

    if spec in models.MODELS:
        return []
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        return [Issue(f"base_model {spec!r}",
                      f"not an embedded model name ({', '.join(models.MODELS)}) nor a local HF dir with config.json")]
    return []


def resolve_base_model(spec: str) -> Path:
    from cqa_tasks import models

    if spec in models.MODELS:
        return models.prepare(spec)
    problems = base_model_issues(spec)
    if problems:
        raise RecipeError(problems)
    return Path(spec).expanduser().resolve()


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


def load_examples(recipe: Recipe) -> tuple[list[annotations.SFTExample], dict[str, str]]:
    """All examples of the recipe's data files (validated), and each file's sha256."""
    from cqa_tasks.checks import gather

    def read(name: str) -> tuple[Path, list[dict]]:
        path = annotations.resolve(name)
        return path, annotations.load(path)

    records, variants, hashes = [], [], {}
    for path, file_records in gather(recipe.data, read):  # every file's problems at once
        hashes[str(path)] = sha256_of(path)
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


# ------------------------------------------------------------------------------------------ main
def _check_run(recipe: Recipe, run: Path, overwrite: bool, stop_after_epoch: int | None, main_process: bool):
    """Every check before any training (bad input fails here, on every rank), cheapest first: the
    output dir, the data files and the base model's path together, then the run directory's state,
    and only then the base model itself (an embedded one is converted once, here).

    Returns (examples, data sha256s, base model path, its config, the previous manifest or None,
    done): `done` is True when there is nothing to train (finished, or paused at the asked epoch).
    """
    from cqa_tasks.checks import attempt, output_dir, raise_if

    issues = output_dir(run, "output_dir") + base_model_issues(recipe.base_model)
    loaded = attempt(issues, load_examples, recipe)
    raise_if(issues)
    examples, data_hashes = loaded
    previous = read_manifest(run)
    if previous and not overwrite and is_stale(run, previous):
        if main_process:  # every rank decides alike; the main process owns the directory
            discard_early(run)
        previous = None  # a run that failed before its first checkpoint: nothing to resume, nothing to keep
    if previous and overwrite and main_process:
        shutil.rmtree(run)
        previous = None
    if previous:
        was, now = comparable_recipe(previous["recipe"]), comparable_recipe(recipe.to_dict())
        if was != now:
            changed = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
            raise RecipeError(f"{run} holds a different run (changed: {', '.join(changed)}); choose another output_dir or pass --overwrite")
        if previous.get("data_sha256") != data_hashes:
            raise RecipeError(f"{run} was trained on different data files (sha256 differs); use --overwrite or a new output_dir")
    elif main_process and run.exists() and any(run.iterdir()) and not overwrite:
        raise RecipeError(f"{run} exists and is not a cqa run directory; choose another output_dir")
    base_path = resolve_base_model(recipe.base_model)
    config = check_causal_lm(base_path)
    if previous and previous.get("status") == "finished":
        print(f"cqa train: {recipe.name} already finished: {run} (use --overwrite to train again)", file=sys.stderr)
        return examples, data_hashes, base_path, config, previous, True
    if previous and stop_after_epoch is not None and f"epoch-{stop_after_epoch}" in previous.get("exports", {}):
        if main_process:
            merge_exports(run, base_path, sorted(previous["exports"]), recipe.dtype)
        print(f"cqa train: {recipe.name} already has epoch {stop_after_epoch}: {run}", file=sys.stderr)
        return examples, data_hashes, base_path, config, previous, True
    return examples, data_hashes, base_path, config, previous, False


def _tokenized(recipe: Recipe, tokenizer, examples: list[annotations.SFTExample]) -> tuple[list[dict], bool]:
    """The training features (examples whose prompt fits max_length) and whether the chat template is used."""
    chat = uses_chat_template(tokenizer, recipe)
    features = [f for ex in examples if (f := tokenize_example(tokenizer, ex, chat, recipe.max_length))]
    if not features:
        raise RecipeError(f"recipe {recipe.name}: every prompt is longer than max_length={recipe.max_length} tokens")
    if len(features) < len(examples):
        log.warning("%d examples dropped: the prompt alone exceeds max_length=%d", len(examples) - len(features), recipe.max_length)
    return features, chat


def _started_manifest(recipe: Recipe, previous: dict | None, base_path: Path, config: Any, data_hashes: dict,
                      features: list[dict], chat: bool) -> dict:
    """The manifest of a new run, or the previous one marked running again."""
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
    return manifest


def _lora_trainer(recipe: Recipe, run: Path, base_path: Path, tokenizer, features: list[dict], hooks: list):
    """A transformers Trainer over the base model with LoRA adapters, as the recipe says."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

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
        callbacks=hooks,
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    return trainer


def _finish(run: Path, recipe: Recipe, trainer, tokenizer, base_path: Path, manifest: dict, started: float) -> None:
    """After training: pause (stop_after_epoch) or finish: `final`, merged models, the manifest."""
    state = trainer.state
    if state.global_step < state.max_steps:  # paused by stop_after_epoch: not finished
        merge_exports(run, base_path, sorted(manifest["exports"]), recipe.dtype)
        manifest.update(global_step=state.global_step, loss_per_step=losses(state.log_history),
                        wall_seconds=manifest["wall_seconds_before"] + time.time() - started, status="paused")
        write_manifest(run, manifest)
        print(f"cqa train: paused after epoch {round(state.epoch or 0)} at step {state.global_step} of {state.max_steps}: "
              f"{run} (run again to continue)", file=sys.stderr)
        return
    last_epoch = max((int(k.split("-")[1]) for k in manifest["exports"]), default=None)
    final = run / "final"
    if last_epoch is not None and manifest["exports"][f"epoch-{last_epoch}"]["global_step"] == state.global_step:
        point_at(final, f"epoch-{last_epoch}")
    else:
        if final.is_symlink() or final.is_file():
            final.unlink()
        shutil.rmtree(final, ignore_errors=True)
        export_adapter(trainer.model, tokenizer, final / "adapter")
    merge_exports(run, base_path, sorted(manifest["exports"]) + ([] if final.is_symlink() else ["final"]), recipe.dtype)
    manifest.update(
        status="finished",
        global_step=state.global_step,
        loss_per_step=losses(state.log_history),
        wall_seconds=manifest["wall_seconds_before"] + time.time() - started,
        final={"global_step": state.global_step, "epoch": state.epoch, "path": str(final.resolve())},
    )
    manifest.pop("wall_seconds_before", None)
    write_manifest(run, manifest)
    print(f"cqa train: finished {run}", file=sys.stderr)


def train(recipe: Recipe, overwrite: bool = False, stop_after_epoch: int | None = None) -> Path:
    """Run (or resume, or skip if finished) the recipe. Returns the run directory.

    `stop_after_epoch=K` pauses the run once epoch K is exported and merged, with a checkpoint there;
    the same call without it (or with a later K) continues the same run, so its epochs equal an
    uninterrupted run's (the study evaluates epoch K before training K+1).
    """
    import torch
    from transformers import AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint

    main_process = int(os.environ.get("RANK", "0")) == 0
    run = recipe.resolved_output_dir().resolve()
    examples, data_hashes, base_path, config, previous, done = _check_run(recipe, run, overwrite, stop_after_epoch, main_process)
    if done:
        return run
    if main_process:  # other ranks only read; the main process owns the run directory
        run.mkdir(parents=True, exist_ok=True)
        log_to(run / "train.log")
        log.setLevel(logging.INFO)
    try:
        torch.manual_seed(recipe.seed)
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        features, chat = _tokenized(recipe, tokenizer, examples)
        started = time.time()
        manifest = _started_manifest(recipe, previous, base_path, config, data_hashes, features, chat)
        hooks = callbacks(run, tokenizer, manifest, started, stop_after_epoch)
        trainer = _lora_trainer(recipe, run, base_path, tokenizer, features, hooks)
        if main_process:  # only once the model and its adapters are built: a refused run leaves no manifest
            write_manifest(run, manifest)
    except BaseException:
        if main_process and previous is None:  # a new run that never started: leave nothing behind
            discard_early(run)
        raise
    last = get_last_checkpoint(str(run / "checkpoints")) if (run / "checkpoints").is_dir() else None
    if last:
        log.info("resuming from %s", last)
        print(f"cqa train: resuming from {last}", file=sys.stderr)
    trainer.train(resume_from_checkpoint=last)
    if trainer.is_world_process_zero():
        _finish(run, recipe, trainer, tokenizer, base_path, manifest, started)
    return run
