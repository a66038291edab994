"""Reading CQA-Bench JSONL files: locate, validate, filter, fingerprint."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cqa_tasks.checks import InputError, Issue, read_text
from cqa_tasks.schema import BenchDataError, Problem, errors_only, normalize, validate_lines

BENCH_VERSION = "1.1"
BENCH_FILE = "cqa_bench_v1_1.jsonl"  # the default; cqa_bench_v1.jsonl stays loadable (README)


def data_dir() -> Path:
    """Where the shipped CQA-Bench files live (inside the installed `task_configs` package)."""
    import task_configs

    return Path(task_configs.__file__).parent / "data"


def task_dir() -> Path:
    """The directory to give lm-eval's `--include_path` if task discovery is switched off."""
    import task_configs

    return Path(task_configs.__file__).parent


class DataFileError(InputError):
    """A data file that is not there (or not a file); an InputError, so `cqa` prints it as one line."""


def resolve_file(path: str | Path, shipped_dir: Path, what: str) -> Path:
    """A user path as given (relative to the CWD), else a file of that name shipped in `shipped_dir`."""
    p = Path(path).expanduser()
    if p.is_file():
        return p.resolve()
    if p.exists():  # a directory (or a FIFO, a device) is there, but it is no data file
        raise DataFileError([Issue(str(path), f"{what} is a directory, not a file" if p.is_dir() else f"{what} is not a regular file")])
    shipped = shipped_dir / path
    if str(path) and shipped.is_file():
        return shipped
    raise DataFileError(f"{what} not found: {path} (looked in the current directory and {shipped_dir})")


def resolve(path: str | Path) -> Path:
    return resolve_file(path, data_dir(), "CQA data file")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (data files, model configs, checkpoints)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_file(path: Path) -> tuple[list[dict], list[Problem]]:
    """Records and problems of one file; InputError when it cannot be read as UTF-8 text at all."""
    return validate_lines(read_text(path).splitlines(), str(path))


def load_records(path: str | Path, strict: bool = False, **filters: str | None) -> list[dict]:
    """Validated, normalized records of one file, optionally filtered by field values
    (e.g. group="literary", lang="zh"). Raises BenchDataError naming file:line:field."""
    p = resolve(path)
    records, problems = check_file(p)
    errors = errors_only(problems, strict)
    if errors:
        raise BenchDataError(errors)
    wanted = {k: v for k, v in filters.items() if v is not None}
    return [normalize(r) for r in records if all(r.get(k) == v for k, v in wanted.items())]
