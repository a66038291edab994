"""Backport of lm-eval's plugin discovery to lm-eval 0.4.13: `lm_eval.tasks` entry points (upstream
PR #4015) and `lm_eval.models` entry points (PR #4013), so `--model hf-prefix` works like a built-in.

Loaded at interpreter start by `cqa_lmeval_tasks.pth`; stdlib only and lazy, so it costs well under a
millisecond. When `lm_eval.tasks.manager` is imported it wraps `TaskManager.__init__` so the task
directories of every installed `lm_eval.tasks` entry point are scanned before `--include_path`
(precedence as in the PR: built-ins < plugins < include_path). It disables itself when lm-eval gains
native discovery (`discover_plugin_task_paths`) and is switched off by `LM_EVAL_TASKS_BACKPORT=0`.
"""

from __future__ import annotations

import os
import sys

_TARGET = "lm_eval.tasks.manager"
_MODELS = "lm_eval.models"
_MARK = "_lm_eval_tasks_ep_backport"


def plugin_task_dirs() -> list:
    """Directories of the packages named by `lm_eval.tasks` entry points (PR #4015's rule)."""
    import importlib.metadata as md
    import importlib.util
    from pathlib import Path

    dirs: list[Path] = []
    for ep in md.entry_points(group="lm_eval.tasks"):
        try:
            spec = importlib.util.find_spec(ep.value.split(":", 1)[0])
            if spec is None:
                raise ModuleNotFoundError(ep.value)
            locations = list(spec.submodule_search_locations or [])
            d = (Path(locations[0]) if locations else Path(spec.origin).parent).resolve()
            if d not in dirs:
                dirs.append(d)
        except Exception as e:  # one broken plugin must not break lm_eval
            print(f"lm_eval.tasks entry point {ep.name!r} skipped: {e}", file=sys.stderr)
    return dirs


def _patch(module) -> None:
    if hasattr(module, "discover_plugin_task_paths"):
        return  # lm-eval has native support: nothing to backport
    manager_cls = module.TaskManager
    if getattr(manager_cls.__init__, _MARK, False):
        return  # another plugin's copy of this backport got there first
    original = manager_cls.__init__

    def __init__(self, verbosity=None, include_path=None, include_defaults=True, metadata=None):
        from pathlib import Path

        if include_path is None:
            user = []
        elif isinstance(include_path, (list, tuple)):
            user = list(include_path)
        else:
            user = [include_path]
        given = {Path(p).resolve() for p in user}
        paths = [d for d in plugin_task_dirs() if d not in given] + user
        original(self, verbosity, include_path=paths or None, include_defaults=include_defaults, metadata=metadata)

    setattr(__init__, _MARK, True)
    manager_cls.__init__ = __init__


def register_model_plugins(module=None) -> None:
    """Register every `lm_eval.models` entry point as a lazy model (upstream PR #4013's rule).

    Runs right after `lm_eval.models` registered the built-ins (never before: `get_model` only imports
    `lm_eval.models` while the registry is empty); built-ins win over plugins of the same name.
    """
    import importlib.metadata as md

    from lm_eval.api.registry import model_registry

    for ep in md.entry_points(group="lm_eval.models"):
        if ep.name not in model_registry:
            try:
                model_registry.register(ep.name, target=ep.value)
            except Exception as e:  # one broken plugin must not break lm_eval
                print(f"lm_eval.models entry point {ep.name!r} skipped: {e}", file=sys.stderr)


class _PatchOnImport:
    """One-shot meta-path hook: run `patch(module)` right after the module `target` is executed."""

    def __init__(self, target: str, patch) -> None:
        self.target, self.patch = target, patch

    def find_spec(self, name, path=None, target=None):
        if name != self.target:
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            self.patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def enabled() -> bool:
    return os.environ.get("LM_EVAL_TASKS_BACKPORT", "1") != "0"


if enabled():
    for _name, _fn in ((_TARGET, _patch), (_MODELS, register_model_plugins)):
        if _name in sys.modules:
            _fn(sys.modules[_name])
        else:
            sys.meta_path.insert(0, _PatchOnImport(_name, _fn))
