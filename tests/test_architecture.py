"""The layering docs/architecture.md describes, checked on the source: who may import whom, no
circles, modules of a readable size, and every module the page names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cqa_tasks", "cqa_train", "leaderboard", "task_configs")
# what each package may import from the others
ALLOWED = {
    "cqa_tasks": {"task_configs"},  # its data package: YAML and JSONL, located through the package
    "task_configs": {"cqa_tasks"},
    "leaderboard": {"cqa_tasks"},
    "cqa_train": {"cqa_tasks", "leaderboard"},
}
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            out[".".join(rel.parts).removesuffix(".__init__")] = path
    return out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_packages_import_only_the_layers_below():
    for name, path in _modules().items():
        package = name.split(".")[0]
        for imported in _imports(path):
            other = imported.split(".")[0]
            if other in PACKAGES and other != package:
                assert other in ALLOWED[package], f"{name} imports {imported}"


def test_no_import_circles_between_modules():
    modules = _modules()
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join([*stack[stack.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_modules_stay_readable():
    for name, path in _modules().items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        assert n <= MAX_LINES, f"{name} has {n} lines; split it by job"


def test_architecture_page_names_only_modules_that_exist():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_]+(?:/[a-z_]+)*\.py|[a-z_]+/)`", page))
    sections = re.split(r"^### ", page, flags=re.M)
    assert len(named) > 20
    for section in sections[1:]:
        heading = section.splitlines()[0].strip("` ").split("/")[0]
        for ref in re.findall(r"^\| `([^`]+)`", section, flags=re.M):
            for part in ref.split("`, `"):
                candidates = [ROOT / heading / part, ROOT / part]
                assert any(c.exists() for c in candidates), f"docs/architecture.md names {part!r} under {heading}"
