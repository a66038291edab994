import json
import os
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real embedded model, converted once into $CQA_HOME (about a minute the first time)."""
    from cqa_tasks import models

    return models.prepare("smollm2")
