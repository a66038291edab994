"""The generated index.html in real headless Chromium: loads from file:// without console errors or
network requests, sorts on a header click, renders a hostile model name as text.

Needs a Chromium (Debian's: `make browser`) and Playwright for Python (never `playwright install`).
The browser is looked for wherever it may be (`$CHROMIUM`, the PATH, the usual install places,
Playwright's own cache). Without one the test is skipped on a developer's machine, and FAILS when
`CI` is set: a CI run must not turn green by skipping it.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import pytest

from leaderboard import build

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")
PLACES = (
    "/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser", "/snap/bin/chromium",
    "/opt/google/chrome/chrome", "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)  # fmt: skip
PLAYWRIGHT_CACHE = ("~/.cache/ms-playwright/chromium*/chrome-*/chrome", "~/.cache/ms-playwright/chromium_headless_shell*/*/headless_shell")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DATA = Path(__file__).parent / "data" / "leaderboard"
EVIL = "org/<script>alert(1)</script>"


def find_chromium() -> Path | None:
    """A Chromium or Chrome executable, wherever it is installed; None if there is none."""
    candidates = [os.environ.get(v) for v in ("CHROMIUM", "CHROME_BIN", "PLAYWRIGHT_CHROMIUM_EXECUTABLE_PATH")]
    candidates += [shutil.which(n) for n in NAMES] + list(PLACES)
    for pattern in PLAYWRIGHT_CACHE:
        candidates += sorted(glob.glob(os.path.expanduser(pattern)), reverse=True)
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    return None


def missing(what: str) -> None:
    """Skip on a developer's machine; fail under CI, where a skipped browser test would read as a pass."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}, and CI is set: this test may not be skipped there", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        missing("no Chromium found (`make browser`, or set CHROMIUM=/path/to/chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        missing("Playwright for Python missing: pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        yield browser
        browser.close()


def test_a_missing_browser_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        missing("no Chromium found")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        missing("no Chromium found")


@pytest.mark.slow
def test_page_in_chromium(browser, tmp_path):
    build([DATA / "runs_a", DATA / "runs_b"], tmp_path / "board", warn=lambda message: None)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on(
        "request", lambda r: None if r.url.startswith("file://") else problems.append(f"request: {r.url}")
    )
    page.goto((tmp_path / "board" / "index.html").as_uri())
    page.wait_for_load_state("load")

    table = page.locator("section[id='v1.0-a1a1a1a1a1a1'] table.sortable").first

    def names() -> list[str]:
        return table.locator("tbody td.model .name").all_inner_texts()

    assert names() == ["alpha", "org/Beta-1B", EVIL, "gamma-350m"]  # by literary pair acc; name shown as text

    # Factual control: pair acc, found by its title (columns were added before it since this test was
    # written, and a skipped test never noticed)
    factual = table.locator("thead tr.cols th[title^='Factual control: Share of pairs']")
    assert factual.count() == 1
    factual.locator("button").click()
    assert names() == ["org/Beta-1B", EVIL, "gamma-350m", "alpha"]  # 0.938, 0.750, 0.625, 0.500
    assert factual.get_attribute("aria-sort") == "descending"
    factual.locator("button").click()
    assert names() == ["alpha", "gamma-350m", EVIL, "org/Beta-1B"]
    assert factual.get_attribute("aria-sort") == "ascending"

    table.locator("thead tr.cols th").nth(0).locator("button").click()  # back to rank order
    assert names() == ["alpha", "org/Beta-1B", EVIL, "gamma-350m"]
    assert page.locator("svg.plot-heat").count() == 2

    shot = tmp_path / "leaderboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()
    assert problems == []
