"""Model identity: the full, normalized model arguments of a run, not just the model's name.

Two runs are the same model when backend and normalized arguments match: the same weights with
a LoRA adapter, another dtype or add_bos_token are different rows. Paths are opaque strings
(third-party results name paths on their own machines); only trailing slashes are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Arguments that choose where or how fast a model runs, not what it computes.
OPERATIONAL_KEYS = frozenset(
    {
        "device",
        "batch_size",
        "max_batch_size",
        "parallelize",
        "device_map",
        "device_map_option",
        "max_memory_per_gpu",
        "max_cpu_memory",
        "offload_folder",
        "cache_dir",
        "local_files_only",
        "token",
        "use_auth_token",
        "trust_remote_code",
    }
)
PATH_KEYS = frozenset({"pretrained", "peft", "delta", "tokenizer", "gguf_file", "model", "path"})
DTYPE_ALIASES = {
    "fp32": "float32",
    "float": "float32",
    "float32": "float32",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp64": "float64",
    "float64": "float64",
    "auto": "auto",
}
# hf-prefix (cqa_tasks.lm_backend) computes the `hf` numbers with shared prefixes (tested): same row.
BACKEND_ALIASES = {"hf-auto": "hf", "huggingface": "hf", "hf-prefix": "hf"}


def parse_model_args(raw: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """lm-eval's model_args as a dict: it is a dict in 0.4.13 results and `k=v,k=v` in older ones."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    out: dict[str, Any] = {}
    for part in str(raw).split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip()
    return out


def normalize_dtype(value: Any) -> str:
    text = str(value).strip()
    if text.startswith("torch."):
        text = text[len("torch.") :]
    return DTYPE_ALIASES.get(text.lower(), text)


def _normalize_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.capitalize()
    if key in PATH_KEYS and len(text) > 1:
        text = text.rstrip("/\\") or text
    return text


def normalize_model_args(args: Mapping[str, Any], model_dtype: str | None = None) -> dict[str, str]:
    """Canonical, sorted arguments; `dtype` is the dtype the model actually ran in where known.

    `dtype=auto` or no dtype at all is replaced by the run's reported `model_dtype`, so
    `pretrained=X` and `pretrained=X,dtype=float32` are one identity when both ran in float32.
    """
    out: dict[str, str] = {}
    for key, value in args.items():
        key = str(key).strip()
        if key in OPERATIONAL_KEYS or value is None:
            continue
        if key == "torch_dtype":
            key = "dtype"
        out[key] = normalize_dtype(value) if key == "dtype" else _normalize_value(key, value)
    if out.get("dtype", "auto") == "auto" and model_dtype:
        out["dtype"] = normalize_dtype(model_dtype)
    return dict(sorted(out.items()))


def normalize_backend(backend: Any) -> str:
    text = str(backend or "unknown").strip()
    return BACKEND_ALIASES.get(text, text)


def args_string(args: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in args.items())


def identity_key(backend: str, args: Mapping[str, str]) -> str:
    """One string per identity, e.g. `hf:dtype=float32,pretrained=/models/a`."""
    return f"{backend}:{args_string(args)}"


def _short_path(value: str) -> str:
    """Last component of a local path; anything else (a Hub id like `org/name`) stays whole."""
    is_local = value.startswith(("/", "~", ".")) or "\\" in value or re.match(r"^[A-Za-z]:[/\\]", value)
    if not is_local:
        return value
    parts = [p for p in value.replace("\\", "/").split("/") if p]
    return parts[-1] if parts else value


def display_name(args: Mapping[str, str], fallback: str = "unknown model") -> str:
    """Human name: the weights, plus the adapter when there is one."""
    base = args.get("pretrained") or args.get("model") or args.get("path") or args.get("gguf_file")
    name = _short_path(base) if base else fallback
    if args.get("revision"):
        name += f"@{args['revision']}"
    if args.get("peft"):
        name += f" + {_short_path(args['peft'])}"
    return name


def disambiguate(names: list[str], args_list: list[Mapping[str, str]]) -> list[str]:
    """Labels unique within a table: a shared name gets the arguments that tell the rows apart."""
    labels = list(names)
    for name in set(names):
        idx = [i for i, n in enumerate(names) if n == name]
        if len(idx) < 2:
            continue
        keys = sorted({k for i in idx for k in args_list[i]})
        differing = [k for k in keys if len({args_list[i].get(k) for i in idx}) > 1 and k != "pretrained"]
        for i in idx:
            extra = ",".join(f"{k}={args_list[i].get(k, '-')}" for k in differing)
            labels[i] = f"{name} [{extra}]" if extra else name
    return labels


def format_params(n: Any) -> str:
    """134515008 -> 135M; unknown -> an em dash."""
    try:
        value = float(n)
    except (TypeError, ValueError):
        return "—"
    if value <= 0:
        return "—"
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            shown = value / scale
            return f"{shown:.0f}{unit}" if shown >= 100 else f"{shown:.3g}{unit}"
    return f"{value:.0f}"
