"""`cqa leaderboard` and `cqa compare` on the checked-in fixtures give the checked-in reports, byte for byte.

A refactoring must leave these bytes alone. When a change is *meant* to alter a report, regenerate
with `python -m tests.test_golden_reports` and review the diff of tests/data/golden/ like code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
# relative to DATA, so no machine-specific path lands in a report
LEADERBOARD_RUNS = ["leaderboard/runs_a", "leaderboard/runs_b", "v1_era", "surprise_era"]
COMPARE = ["surprise_era/hash-lm-b", "--reference", "surprise_era/hash-lm-a", "--resamples", "500"]
TEXT_FILES = {
    "leaderboard": ["leaderboard.md", "leaderboard.csv", "leaderboard.json", "index.html"],
    "compare": ["compare.md", "compare.json"],
}


def render(out: Path) -> None:
    """Both reports into out/leaderboard and out/compare, run from DATA with relative paths."""
    from cqa_tasks.cli import main

    cwd = Path.cwd()
    os.chdir(DATA)
    try:
        assert main(["leaderboard", *LEADERBOARD_RUNS, "--no-reference", "-o", str(out / "leaderboard")]) == 0
        assert main(["compare", *COMPARE, "-o", str(out / "compare")]) == 0
    finally:
        os.chdir(cwd)


def test_reports_are_byte_identical_to_the_golden_files(tmp_path, capsys):
    render(tmp_path)
    for kind, names in TEXT_FILES.items():
        for name in names:
            got = (tmp_path / kind / name).read_bytes()
            assert got == (GOLDEN / kind / name).read_bytes(), f"{kind}/{name} changed"


if __name__ == "__main__":  # regenerate the golden files
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        render(Path(tmp))
        for kind, names in TEXT_FILES.items():
            (GOLDEN / kind).mkdir(parents=True, exist_ok=True)
            for name in names:
                shutil.copy(Path(tmp) / kind / name, GOLDEN / kind / name)
    print(f"wrote {GOLDEN}", file=sys.stderr)
