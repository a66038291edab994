import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The tests' own $CQA_HOME: nothing they do reads or changes the user's caches (models, runs, results,
# the audit cache), and nothing a user left there can make a test pass. Subprocesses inherit it.
USER_CQA_HOME = Path(os.environ.get("CQA_HOME", "~/.cache/cqa")).expanduser()
TEST_CQA_HOME = Path(tempfile.mkdtemp(prefix="cqa-test-home-"))
os.environ["CQA_HOME"] = str(TEST_CQA_HOME)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).parent / "data"
MINI = DATA / "mini.jsonl"


@pytest.fixture
def mini_path() -> Path:
    return MINI


@pytest.fixture
def mini_records() -> list[dict]:
    return [json.loads(line) for line in MINI.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def task_manager():
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    return TaskManager(include_defaults=False, include_path=str(task_dir()))


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(TEST_CQA_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real embedded model in the tests' $CQA_HOME. The user's converted copy is reused (linked)
    only when it was made from the same GGUF (sha256) by the same converter version; otherwise the
    model is converted here (about a minute)."""
    from cqa_tasks import models

    target = models.model_dir("smollm2")
    cached = USER_CQA_HOME / "models" / "smollm2"
    if not models.is_prepared("smollm2") and models.reusable(cached, "smollm2"):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(cached.resolve(), target_is_directory=True)
    return models.prepare("smollm2")
