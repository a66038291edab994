"""`lm_eval --tasks cqa…` resolves with no --include_path: editable install, built wheel, opt-out."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LM_EVAL = [sys.executable, "-m", "lm_eval"]

pytestmark = pytest.mark.slow


def _run(cmd, cwd, **env):
    full_env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"} | env
    return subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


def test_backport_patches_task_manager_in_process():
    from lm_eval.tasks import TaskManager

    from cqa_tasks._lmeval_tasks_backport import plugin_task_dirs

    assert (ROOT / "task_configs").resolve() in plugin_task_dirs()
    assert getattr(TaskManager.__init__, "_lm_eval_tasks_ep_backport", False)


def test_validate_in_this_env_without_include_path(tmp_path):
    proc = _run([*LM_EVAL, "validate", "--tasks", "cqa_creative,cqa_factual,cqa"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All tasks found and valid" in proc.stdout + proc.stderr


def test_opt_out_disables_discovery(tmp_path):
    proc = _run([*LM_EVAL, "validate", "--tasks", "cqa"], tmp_path, LM_EVAL_TASKS_BACKPORT="0")
    assert proc.returncode != 0
    assert "not found" in (proc.stdout + proc.stderr).lower()
    # the documented fallback still works with the opt-out set
    task_dir = _run([sys.executable, "-m", "cqa_tasks.cli", "tasks-path"], tmp_path).stdout.strip()
    proc = _run([*LM_EVAL, "validate", "--tasks", "cqa", "--include_path", task_dir], tmp_path, LM_EVAL_TASKS_BACKPORT="0")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_built_wheel_in_fresh_venv(tmp_path):
    """Build the wheel, install it (no deps) into a new venv whose dependencies come from this env's
    site-packages as a plain path entry (so this env's own .pth hooks and editable finder do not
    run there), then ask lm_eval for the tasks from outside the repo."""
    wheels = tmp_path / "wheels"
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(wheels.glob("cqa-*.whl"))

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    fresh_site = Path(subprocess.run([py, "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (fresh_site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", str(wheel)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (fresh_site / "cqa_lmeval_tasks.pth").is_file()
    assert (fresh_site / "task_configs" / "data").is_dir()

    where = _run([str(py), "-c", "import task_configs, cqa_tasks; print(task_configs.__file__); print(cqa_tasks.__file__)"], tmp_path)
    assert where.stdout.count(str(fresh_site)) == 2, where.stdout  # the wheel's copy, not the checkout

    proc = _run([str(py), "-m", "lm_eval", "validate", "--tasks", "cqa"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "All tasks found and valid" in proc.stdout + proc.stderr
    listing = _run([str(py), "-m", "lm_eval", "ls", "tasks"], tmp_path)
    assert "cqa_creative" in listing.stdout and str(fresh_site / "task_configs") in listing.stdout

    proc = _run([str(py), "-m", "lm_eval", "validate", "--tasks", "cqa"], tmp_path, LM_EVAL_TASKS_BACKPORT="0")
    assert proc.returncode != 0
