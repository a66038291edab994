"""A training run's directory: its manifest (written atomically) and its exported adapters and merged models.

    <run>/manifest.json            recipe, base model identity, data sha256s, seed, versions, loss per step
    <run>/epoch-K/adapter|merged   LoRA adapter and base + adapter merged, after epoch K
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from cqa_tasks.data import sha256_of
from cqa_train.recipe import Recipe

MANIFEST = "manifest.json"
log = logging.getLogger("cqa_train")


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
    identity = {"path": str(path), "model_type": config.model_type, "config_sha256": sha256_of(path / "config.json")}
    stamp = path / "cqa_model.json"
    if stamp.is_file():
        identity["embedded"] = json.loads(stamp.read_text())
    weights = sorted(path.glob("*.safetensors"))
    identity["weights_bytes"] = sum(w.stat().st_size for w in weights)
    return identity


def read_manifest(run: Path) -> dict | None:
    f = run / MANIFEST
    if not f.is_file():
        return None
    try:
        manifest = json.loads(f.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("recipe"), dict):
        from cqa_tasks.checks import InputError, Issue

        raise InputError([Issue(str(f), "not a cqa run manifest (not JSON, or no recipe); choose another output_dir")])
    return manifest


def has_progress(run: Path, manifest: dict) -> bool:
    """Whether a run holds anything to resume or keep: an exported epoch or a Trainer checkpoint."""
    checkpoints = run / "checkpoints"
    return bool(manifest.get("exports")) or (checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*")))


# what a run writes before its first checkpoint: all of it may go when that run failed
EARLY_FILES = (MANIFEST, "train.log", "train_log.jsonl")


def is_stale(run: Path, manifest: dict) -> bool:
    """A run that never got to a checkpoint (it failed or was stopped early): nothing to resume or
    keep, so it must not block the corrected command as "a different run"."""
    return manifest.get("status") != "finished" and not has_progress(run, manifest)


def discard_early(run: Path) -> None:
    """Remove what a run writes before its first checkpoint, and the run dir if that leaves it empty."""
    stop_logging_to(run / "train.log")
    for name in EARLY_FILES:
        (run / name).unlink(missing_ok=True)
    checkpoints = run / "checkpoints"
    if checkpoints.is_dir() and not any(checkpoints.glob("checkpoint-*")):
        shutil.rmtree(checkpoints, ignore_errors=True)
    if run.is_dir() and not any(run.iterdir()):
        run.rmdir()


def write_manifest(run: Path, manifest: dict) -> None:
    tmp = run / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(run / MANIFEST)  # atomic: a crash never leaves a half-written manifest


def comparable_recipe(recipe: dict) -> dict:
    # output_dir may be spelled differently (relative vs absolute) for the same run; a key added to
    # Recipe after a run was started is read at its default, so the run still resumes
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe) if f.default is not dataclasses.MISSING}
    return {k: v for k, v in (defaults | recipe).items() if k not in ("output_dir", "notes")}


# --------------------------------------------------------------------------------------- exports
def point_at(link: Path, target: str) -> None:
    """`link` -> `target` (relative), replaced atomically: a reader never finds `final` missing."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=True)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)  # an old `final` directory (an export of its own)
    os.replace(tmp, link)


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


def losses(history: list[dict]) -> list[dict]:
    return [{"step": h["step"], "loss": h["loss"], "epoch": h.get("epoch")} for h in history if "loss" in h]


def merge_exports(run: Path, base_path: Path, names: list[str], dtype: str) -> None:
    """A merged HF dir beside every exported adapter that lacks one (after a crash too)."""
    for name in names:
        d = run / name
        if not (d / "merged" / "config.json").is_file():
            print(f"cqa train: merging {d.name}", file=sys.stderr)
            merge_adapter(base_path, d / "adapter", d / "merged", dtype)


# ------------------------------------------------------------------------------- run log and callbacks
RUN_LOGGERS = ("cqa_train", "transformers", "peft")
TEST_KILL_AFTER_CHECKPOINT = "CQA_TEST_KILL_AFTER_CHECKPOINT"  # the global step; tests only


def log_to(path: Path) -> None:
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


def stop_logging_to(path: Path) -> None:
    """Detach and close the run-log handler writing to `path`, if any."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "cqa-run-log"]:
            if Path(getattr(old, "baseFilename", "")) == path.absolute():
                logger.removeHandler(old)
                old.close()


def callbacks(run: Path, tokenizer, manifest: dict, started: float, stop_after_epoch: int | None = None):
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
                manifest["loss_per_step"] = losses(state.log_history)
                manifest["wall_seconds"] = manifest["wall_seconds_before"] + time.time() - started
                write_manifest(run, manifest)

        def on_save(self, args, state, control, **kw):
            # Test-only hook (tests/test_trainer.py): die by SIGKILL right after checkpoint N is on
            # disk, at a known point rather than whenever a poller notices the directory.
            kill_at = os.environ.get(TEST_KILL_AFTER_CHECKPOINT)
            if kill_at and state.global_step == int(kill_at) and state.is_world_process_zero:
                import signal

                os.kill(os.getpid(), signal.SIGKILL)

        def on_train_end(self, args, state, control, **kw):
            self.bar.close()

    return [ProgressAndLog()]
