"""Checks on what a command is given, made before any work: option values, input files, output paths.

Every problem is one `Issue`, printed on one line as `<where>[:<line>][: <field>]: <message>`, where
`where` is a file or an option. A command collects the issues of all its inputs and raises them
together (`InputError`), so one run lists every problem, not just the first.

Exit codes: USAGE (2) when the command line is wrong in itself (an option's type, range or choice,
a recipe override, an output path that cannot be written); DATA (1) when it is well formed but a
file it names is missing, unreadable or bad. The limits below are documented in the README.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

DATA, USAGE, INTERRUPTED = 1, 2, 130

MAX_DATA_BYTES = 64 << 20  # a JSONL data file (CQA-Bench v1 is 0.4 MB)
MAX_CONFIG_BYTES = 1 << 20  # a recipe YAML, a --metadata value
MAX_RESULTS_BYTES = 512 << 20  # an lm-eval results or samples file
MAX_TEXT_CHARS = 20_000  # any string of a data record (the longest CQA-Bench v1 passage has 762)
MAX_DEPTH = 8  # nesting of a data record (the schemas need 3: object > list > object)

T = TypeVar("T")


@dataclass(frozen=True)
class Issue:
    where: str  # a file, or an option as typed (--limit, lora.rank=0)
    message: str
    line: int | None = None
    field: str | None = None
    code: int = DATA

    def __str__(self) -> str:
        head = self.where if self.line is None else f"{self.where}:{self.line}"
        return f"{head}: {self.field}: {self.message}" if self.field else f"{head}: {self.message}"


def usage(where: str, message: str, field: str | None = None) -> Issue:
    return Issue(where, message, field=field, code=USAGE)


class InputError(ValueError):
    """Bad input, found before any work. `issues` lists every problem; the message is one line
    (the first problem, and how many more), which is what lm-eval and other callers print."""

    def __init__(self, issues: Sequence[Any] | str, message: str | None = None):
        given = [issues] if isinstance(issues, str) else issues
        self.issues = list({str(i): i for i in given}.values())  # one line per problem, even if found twice
        first = one_line(self.issues[0]) if self.issues else "bad input"
        more = f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""
        super().__init__(message or first + more)

    @property
    def code(self) -> int:
        return USAGE if any(getattr(i, "code", DATA) == USAGE for i in self.issues) else DATA


def one_line(x: object) -> str:
    """A message on one line: a file name or a value with a newline must not start a new one."""
    return " ".join(str(x).split("\n")).replace("\r", " ")


def raise_if(issues: Sequence[Any]) -> None:
    if issues:
        raise InputError(issues)


def gather(values: Iterable[T], fn: Callable[[T], Any]) -> list:
    """fn(value) for every value; the problems of all values together in one InputError, so that
    a bad first file does not hide the problems of the next."""
    out, issues = [], []
    for value in values:
        try:
            out.append(fn(value))
        except InputError as e:
            issues += e.issues
    raise_if(issues)
    return out


def attempt(issues: list, fn: Callable[..., T], *args: Any) -> T | None:
    """fn(*args), or None with its problems added to `issues` (to be raised with the others)."""
    try:
        return fn(*args)
    except InputError as e:
        issues.extend(e.issues)
        return None


# ------------------------------------------------------------------------------------------ numbers
def int_problem(value: Any, low: int | None = None, high: int | None = None) -> str | None:
    """Why `value` is not an integer in [low, high], or None. 1.5, True and "2" are not integers."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # YAML and JSON write 2.0 for 2
        else:
            return f"must be an integer, got {value!r}"
    if (low is not None and value < low) or (high is not None and value > high):
        return f"must be an integer {_range(low, high, False, False)}, got {value}"
    return None


def real_problem(value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> str | None:
    """Why `value` is not a finite number in the interval, or None (NaN and infinities never are)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if (low is not None and (value < low or (low_open and value == low))) or (
        high is not None and (value > high or (high_open and value == high))
    ):
        return f"must be {_range(low, high, low_open, high_open)}, got {value}"
    return None


def _range(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    return f"{'<' if high_open else '<='} {high}"


class OptionValueError(argparse.ArgumentTypeError, ValueError):
    """An option's value that argparse reports as `<option>: <message>` (exit 2); a ValueError too,
    for callers that parse outside argparse."""


def _arg_number(convert: Callable[[str], T], what: str, problem_of: Callable[[T], str | None]) -> Callable[[str], T]:
    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise OptionValueError(f"must be {what}, got {text!r}") from None
        problem = problem_of(value)
        if problem:
            raise OptionValueError(problem)
        return value

    return parse


def arg_int(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse `type`: an integer in [low, high]; argparse reports the option and exits 2."""
    return _arg_number(int, "an integer", lambda value: int_problem(value, low, high))


def arg_real(low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    """An argparse `type`: a finite number in [low, high] ("nan" and "inf" are refused)."""
    return _arg_number(float, "a number", lambda value: real_problem(value, low, high))


# ---------------------------------------------------------------------------------------- inputs
def input_file(path: Path, where: str | None = None, max_bytes: int = MAX_DATA_BYTES) -> list[Issue]:
    """A file to read: exists, is a regular file (not a directory, FIFO or device), readable, not too big."""
    name = where or str(path)
    if not path.exists():
        return [Issue(name, "not found")]
    if path.is_dir():
        return [Issue(name, "is a directory, not a file")]
    if not path.is_file():
        return [Issue(name, "is not a regular file")]
    if not os.access(path, os.R_OK):
        return [Issue(name, "not readable (permission denied)")]
    size = path.stat().st_size
    if size > max_bytes:
        return [Issue(name, f"is {size:,} bytes; the limit is {max_bytes:,}")]
    return []


def input_dir(path: Path, where: str | None = None) -> list[Issue]:
    name = where or str(path)
    if not path.exists():
        return [Issue(name, "not found")]
    if not path.is_dir():
        return [Issue(name, "is a file, not a directory")]
    if not os.access(path, os.R_OK | os.X_OK):
        return [Issue(name, "not readable (permission denied)")]
    return []


def read_text(path: Path, where: str | None = None, max_bytes: int = MAX_DATA_BYTES) -> str:
    """The file's text, or InputError naming the file (and the line of the first byte that is not UTF-8)."""
    name = where or str(path)
    raise_if(input_file(path, name, max_bytes))
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError([Issue(name, e.strerror or str(e))]) from None
    try:
        return data.decode("utf-8-sig")  # a byte-order mark is harmless: drop it
    except UnicodeDecodeError as e:
        raise InputError([decode_issue(name, data, e.start)]) from None


def decode_issue(name: str, data: bytes, offset: int, line: int | None = None) -> Issue:
    start = data.rfind(b"\n", 0, offset) + 1
    line = line if line is not None else data.count(b"\n", 0, offset) + 1
    return Issue(name, f"not valid UTF-8 (byte 0x{data[offset]:02x} at column {offset - start + 1}); save it as UTF-8",
                 line=line, field="<encoding>")


def parse_json(text: str, allow_nan: bool = False) -> Any:
    """json.loads, with too-deep nesting a ValueError (json raises RecursionError, which callers
    would not expect). NaN and Infinity are not JSON and are refused unless `allow_nan` (lm-eval
    writes them into its own output files)."""

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(text) if allow_nan else json.loads(text, parse_constant=no_constant)
    except RecursionError:
        raise ValueError(f"nested too deeply (the limit is {MAX_DEPTH} levels)") from None


def shape_problems(obj: Any, prefix: str = "", depth: int = 1) -> Iterator[tuple[str, str]]:
    """(field, message) for what no schema here can take: nesting deeper than MAX_DEPTH, strings
    longer than MAX_TEXT_CHARS, and lone surrogates ("\\ud800" is valid JSON but not Unicode, and
    pyarrow, tokenizers and UTF-8 files cannot store it)."""
    if depth > MAX_DEPTH:
        yield prefix or "<record>", f"nested too deeply (the limit is {MAX_DEPTH} levels)"
        return
    if isinstance(obj, str):
        if len(obj) > MAX_TEXT_CHARS:
            yield prefix or "<record>", f"is {len(obj):,} characters; the limit is {MAX_TEXT_CHARS:,}"
        bad = next((c for c in obj if "\ud800" <= c <= "\udfff"), None)
        if bad is not None:
            yield prefix or "<record>", f"contains a lone surrogate (\\u{ord(bad):04x}), which is not valid Unicode"
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from shape_problems(key, f"{prefix}<key>", depth + 1)
            yield from shape_problems(value, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(obj, list):
        for k, value in enumerate(obj):
            yield from shape_problems(value, f"{prefix}[{k}]", depth + 1)


# --------------------------------------------------------------------------------------- outputs
def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _writable_place(path: Path, option: str) -> list[Issue]:
    """The first existing ancestor of a path to create must be a directory we may write to."""
    anchor = _nearest_existing(path.parent)
    if not anchor.is_dir():
        return [usage(str(path), f"cannot be created: {anchor} is a file", option)]
    if not os.access(anchor, os.W_OK | os.X_OK):
        return [usage(str(path), f"cannot be created: {anchor} is not writable", option)]
    return []


def output_file(path: Path, option: str) -> list[Issue]:
    """A file to (over)write: not a directory, and its directory can be created or written."""
    if path.is_dir():
        return [usage(str(path), "is a directory; give a file name", option)]
    if path.exists() and not os.access(path, os.W_OK):
        return [usage(str(path), "is not writable", option)]
    return _writable_place(path, option)


def output_dir(path: Path, option: str) -> list[Issue]:
    """A directory to write into: not an existing file, and creatable or writable."""
    if path.exists() and not path.is_dir():
        return [usage(str(path), "is an existing file, not a directory", option)]
    if path.is_dir():
        return [] if os.access(path, os.W_OK | os.X_OK) else [usage(str(path), "is not writable", option)]
    return _writable_place(path, option)


# ------------------------------------------------------------------------------------- reporting
def report(prog: str, error: BaseException) -> int:
    """Print a refused command's problems, one line each as `<prog>: error: …`; the exit code."""
    if isinstance(error, KeyboardInterrupt):
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    issues = getattr(error, "issues", None) or getattr(error, "problems", None)
    if issues:
        lines = [one_line(i) for i in issues]
    elif isinstance(error, OSError) and error.filename:
        lines = [f"{error.filename}: {error.strerror or error}"]
    elif isinstance(error, KeyError) and error.args:
        lines = [one_line(error.args[0])]  # str(KeyError) would quote the message
    else:
        lines = [one_line(error)]
    for line in lines:
        print(f"{prog}: error: {line}", file=sys.stderr)
    return getattr(error, "code", DATA) if isinstance(error, InputError) else DATA


HANDLED = (InputError, ValueError, KeyError, OSError, KeyboardInterrupt)


def run_command(prog: str, func: Callable[[], int]) -> int:
    """func(), with bad input and Ctrl-C turned into one line each and an exit code, no traceback."""
    try:
        return func()
    except HANDLED as e:
        return report(prog, e)
