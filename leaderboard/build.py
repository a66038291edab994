"""`build`: results dirs in, leaderboard files out. The only module here that touches the disk to write."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cqa_tasks.atomic import Outputs
from cqa_tasks.checks import InputError, output_dir, raise_if
from leaderboard.lm_eval_output import find_results_files
from leaderboard.meta_eval_report import LEADERBOARD_DIR as META_EVAL_DIR
from leaderboard.meta_eval_report import MARKDOWN as META_EVAL_REPORT
from leaderboard.plots import standalone
from leaderboard.reading import Run, label_for, load_run
from leaderboard.render_html import section_plots, to_html
from leaderboard.render_text import Provenance, to_csv, to_json, to_markdown
from leaderboard.surprise_plot import caption, plot_surprise
from leaderboard.table import Section, build_sections

REFERENCE_PREFIX = "reference · "  # before a reference run's model name (leaderboard/reference.py)


class NoResultsError(InputError):
    """No usable CQA-Bench results under the given dirs; the message says what was looked for."""


@dataclass(frozen=True)
class BuildSummary:
    out: Path
    written: list[Path]
    runs: int  # results files read with CQA-Bench tasks in them
    models: int  # rows over all sections
    sections: list[tuple[str, str, int]]  # (bench_version, data_sha256, rows)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{len(self.sections)} section(s), {self.models} model row(s) from {self.runs} run(s)"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} file(s) skipped")
        return f"wrote {self.out / 'index.html'} (" + "; ".join(parts) + ")"


def _stderr_warn(message: str) -> None:
    print(f"cqa leaderboard: warning: {message}", file=sys.stderr)


def read_runs(
    results_dirs: Iterable[Path], warn: Callable[[str], None], references: Sequence[Path] = ()
) -> tuple[list[Run], Provenance]:
    """Every usable run below the dirs, then the reference runs below `references` (marked, so that
    they never merge with a user's run of the same model); unusable files are warned about and skipped."""
    dirs = [Path(d) for d in results_dirs]
    missing = [d for d in dirs if not d.exists()]
    if missing:  # every one, one line each
        raise NoResultsError([f"{d}: no such file or directory" for d in missing])
    found = [(False, root, path) for root, path in find_results_files(dirs)]
    if dirs and not found:
        raise NoResultsError(
            "no lm-eval results (results_*.json) under "
            + ", ".join(str(d) for d in dirs)
            + "; run `lm_eval ... --tasks cqa --output_path DIR --log_samples` and pass DIR"
        )
    found += [(True, root, path) for root, path in find_results_files(list(references))]
    runs, prov = [], Provenance()
    for is_reference, root, path in found:

        def note(file: Path, message: str, root: Path = root) -> None:
            warn(f"{file}: {message}")
            prov.notes.append((label_for(root, file), message))

        label = label_for(root, path)
        loaded = load_run(root, path, note)
        if isinstance(loaded, str):
            warn(f"skipping {path}: {loaded}")
            prov.skipped.append((label, loaded))
            continue
        if is_reference:
            loaded = replace(
                loaded,
                identity=f"reference:{loaded.identity}",
                name=REFERENCE_PREFIX + root.name,
                reference=True,
            )
        runs.append(loaded)
        prov.files_read.append(label)
    if not runs:
        raise NoResultsError(
            f"found {len(found)} results file(s) under "
            + ", ".join(str(d) for d in [*dirs, *references])
            + ", but none with usable CQA-Bench results (see the warnings above)"
        )
    return runs, prov


def surprise_plots(sections: list[Section], out: Path, staged: Outputs) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Per section with per-item samples: plots/<slug>_surprise.png (ΔI against ΔS, a panel per model),
    and (its path relative to `out`, [(model, caption)]) for the pages to link."""
    links = {}
    for section in sections:
        runs = {row.label: [p for leaf in row.leaves for p in leaf.points] for row in section.rows}
        name = f"plots/{section.slug}_surprise.png"
        if plot_surprise(runs, staged.path(out / name), f"{section.title}\nΔI against S(original) − S(twin)") is not None:
            links[section.slug] = (name, [(label, caption(points)) for label, points in runs.items() if points])
    return links


def meta_eval_link(out: Path) -> str | None:
    """The `cqa meta-eval` report written into OUT/meta-eval (its -o), relative to the page; None if absent."""
    report = out / META_EVAL_DIR / META_EVAL_REPORT
    return f"{META_EVAL_DIR}/{META_EVAL_REPORT}" if report.is_file() else None


def write_outputs(sections: list[Section], prov: Provenance, out: Path) -> list[Path]:
    """Every file of the leaderboard, written to temporaries and renamed into `out` together: an
    error or Ctrl-C leaves the previous leaderboard (or nothing, not even an empty `out`)."""
    with Outputs() as staged:
        return _write_all(sections, prov, out, staged)


def _write_all(sections: list[Section], prov: Provenance, out: Path, staged: Outputs) -> list[Path]:
    plots = {s.slug: section_plots(s) for s in sections}
    surprise = surprise_plots(sections, out, staged)
    files = {
        "leaderboard.md": to_markdown(sections, prov, surprise),
        "leaderboard.csv": to_csv(sections),
        "leaderboard.json": to_json(sections, prov),
        "index.html": to_html(sections, prov, plots, surprise, meta_eval_link(out)),
    }
    for slug, svgs in plots.items():
        for name, svg in svgs.items():
            files[f"plots/{slug}_{name}.svg"] = standalone(svg)
    written = [staged.text(out / name, text) for name, text in files.items()]
    return written + [out / name for name, _ in surprise.values()]


def build(
    results_dirs: list[Path],
    out: Path,
    warn: Callable[[str], None] | None = None,
    references: Sequence[Path] = (),
) -> BuildSummary:
    """Read every results_*.json (and its samples) below `results_dirs`, and the reference runs below
    `references` (`cqa leaderboard` passes the shipped ones, `reference.reference_dirs()`); write the
    leaderboard to `out`.

    Raises NoResultsError (a ValueError) when there is nothing to show. Warnings (skipped files,
    unusable samples) go to stderr and into the summary.
    """
    messages: list[str] = []

    def collect(message: str) -> None:
        messages.append(message)
        (warn or _stderr_warn)(message)

    raise_if(output_dir(Path(out), "-o"))  # before reading: a bad -o is known at once
    if not results_dirs and not references:
        raise NoResultsError("nothing to show: no RESULTS_DIR given and the reference results are left out")
    runs, prov = read_runs(results_dirs, collect, references)
    sections = build_sections(runs)
    written = write_outputs(sections, prov, Path(out))
    return BuildSummary(
        out=Path(out),
        written=written,
        runs=len(runs),
        models=sum(len(s.rows) for s in sections),
        sections=[(s.bench_version, s.data_sha256, len(s.rows)) for s in sections],
        skipped=prov.skipped,
        warnings=messages,
    )
