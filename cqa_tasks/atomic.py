"""Writing outputs so that nothing is ever half there: every file goes to a temporary sibling and is
renamed into place only when all of a command's outputs are complete.

    with Outputs() as out:
        out.text(board / "leaderboard.md", markdown)
        fig.savefig(out.path(board / "plot.png"))      # the temporary keeps the suffix (format)
    # all renamed into place here; after an error or Ctrl-C, the temporaries and the directories
    # created for them are gone, and the previous files (if any) are untouched

A rename within one directory is atomic, so a reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """A hidden name beside `path`, unique to this process, with the same suffix."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")


class Outputs:
    """A set of files written together: `path(final)` gives the temporary to write, `commit()` renames
    them all into place, `discard()` removes them (and any directory created for them)."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temporary, final)
        self.created: list[Path] = []  # directories made for the outputs, outermost first

    def path(self, final: Path) -> Path:
        final = Path(final)
        self._make_parents(final.parent)
        tmp = temporary_sibling(final)
        self.pending.append((tmp, final))
        return tmp

    def text(self, final: Path, text: str) -> Path:
        self.path(final).write_bytes(text.encode("utf-8"))
        return Path(final)

    def _make_parents(self, directory: Path) -> None:
        missing = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            d.mkdir()
            self.created.append(d)

    def commit(self) -> None:
        try:
            while self.pending:
                tmp, final = self.pending[0]
                if final.is_dir() and not final.is_symlink():  # refused by the checks; never deleted here
                    raise IsADirectoryError(21, "is a directory", str(final))
                if tmp.exists() or tmp.is_symlink():  # a writer that had nothing to write leaves none
                    os.replace(tmp, final)
                self.pending.pop(0)
        except BaseException:
            self.created.clear()  # some outputs are in place: their directories stay
            self.discard()
            raise
        self.created.clear()

    def discard(self) -> None:
        for tmp, _ in self.pending:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        self.pending.clear()
        for d in reversed(self.created):
            try:
                d.rmdir()  # only if empty: a directory that something else filled meanwhile stays
            except OSError:
                pass
        self.created.clear()

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if kind is None:
            self.commit()
        else:  # any error, KeyboardInterrupt included
            self.discard()


def write_text(path: Path, text: str) -> Path:
    """One file, atomically."""
    with Outputs() as out:
        out.text(path, text)
    return Path(path)
