"""The generated index.html in real headless Chromium: loads from file:// without console errors or
network requests, sorts on a header click, renders a hostile model name as text.

Needs Debian's Chromium and Playwright for Python (never `playwright install`):
    apt-get install -y chromium && .venv/bin/pip install playwright
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leaderboard import build

CHROMIUM = Path("/usr/bin/chromium")
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

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright missing: pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


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

    factual = table.locator("thead tr.cols th").nth(4)  # Factual control: pair acc
    assert factual.get_attribute("title").startswith("Factual control")
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
