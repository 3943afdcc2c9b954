"""The HTML report of the shipped example, opened in a real headless Chromium.

Playwright drives the system's Chromium (Debian's ``chromium`` package, which
``.ci/run`` installs); it never downloads a browser of its own. The test skips
only where no Chromium executable exists. It loads the page from a file URL
with every network request blocked and counted, takes screenshots at desktop
and phone width (saved under pytest's tmp dir), and asserts on the DOM: every
step and its badge is present, every MathML element is laid out with a
non-zero size, no raw LaTeX is visible in the math, the page does not scroll
sideways at phone width (long equations scroll inside their own box), and the
print stylesheet applies.

``python tests/render/test_browser.py docs/img/check-report.png`` writes the
screenshot in docs/seeing-the-mathematics.md by the same code path.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")  # Debian's package installs the first


def chromium_executable() -> str | None:
    """The system's Chromium (``SYMDERIV_CHROMIUM`` overrides), or None."""
    override = os.environ.get("SYMDERIV_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    return next((path for path in map(shutil.which, BROWSER_NAMES) if path), None)


def open_report(playwright, page_path: Path, width: int, height: int, profile: str):
    """A browser page showing ``page_path``; returns (browser, page, blocked requests)."""
    browser = playwright.chromium.launch_persistent_context(
        profile, executable_path=chromium_executable(), headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": width, "height": height},
    )
    blocked: list[str] = []

    def route(request_route):
        if request_route.request.url.startswith("file:"):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    browser.route("**/*", route)
    page = browser.new_page()
    page.goto(page_path.as_uri(), wait_until="load")
    return browser, page, blocked


# Every <math> element's layout box and whether its visible text still contains LaTeX.
MATH_BOXES = """() => Array.from(document.querySelectorAll('math')).map(m => {
  const r = m.getBoundingClientRect();
  return {w: r.width, h: r.height, text: m.textContent, display: getComputedStyle(m).display};
})"""
STEPS = """() => Array.from(document.querySelectorAll('section.step')).map(s => ({
  id: s.id, line: s.dataset.line,
  badges: Array.from(s.querySelectorAll('.step-head .badge')).map(b => ({
    verdict: b.dataset.verdict, text: b.innerText, w: b.getBoundingClientRect().width,
    bg: getComputedStyle(b).backgroundColor})),
  claimMath: s.querySelectorAll('.claim math').length,
  visible: s.getBoundingClientRect().height > 0,
}))"""


def write_screenshot(report, png: Path, width: int = 900, height: int = 1000, at_first_false: bool = True) -> None:
    """``report``'s HTML page as a PNG (the picture in the docs), scrolled to its first FALSE step."""
    from playwright.sync_api import sync_playwright

    from symderiv.render.html import render_report

    with tempfile.TemporaryDirectory() as work:
        page_path = Path(work) / "report.html"
        page_path.write_text(render_report(report), encoding="utf-8")
        with sync_playwright() as playwright:
            browser, page, _ = open_report(playwright, page_path, width, height, str(Path(work) / "profile"))
            if at_first_false and report.any_false:
                page.evaluate("() => document.querySelector('section.step.false').scrollIntoView()")
            page.screenshot(path=str(png), full_page=False)
            browser.close()


@pytest.fixture(scope="module")
def browser_session(tmp_path_factory):
    if chromium_executable() is None:
        pytest.skip("no Chromium executable (install Debian's 'chromium'; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the [dev] extra) is not installed")
    pytest.importorskip("latex2mathml", reason="the [html] extra (latex2mathml) is not installed")
    from tests.render.support import sample_report

    from symderiv.render.html import render_report

    work = tmp_path_factory.mktemp("browser")
    report = sample_report()
    page_path = work / "report.html"
    page_path.write_text(render_report(report), encoding="utf-8")
    with sync_api.sync_playwright() as playwright:
        yield playwright, report, page_path, work


def test_every_step_badge_and_formula_is_laid_out(browser_session):
    playwright, report, page_path, work = browser_session
    browser, page, blocked = open_report(playwright, page_path, 1000, 1400, str(work / "desktop-profile"))
    try:
        page.screenshot(path=str(work / "desktop.png"), full_page=True)
        steps = page.evaluate(STEPS)
        maths = page.evaluate(MATH_BOXES)
        summary_links = page.eval_on_selector_all("table.summary a", "as => as.map(a => a.getAttribute('href'))")
        first_false = page.evaluate("() => document.querySelector('section.step.false').id")
        page.click("table.summary tr.verdict.false td.count a")
        scrolled_to = page.evaluate("() => location.hash")
    finally:
        browser.close()
    assert blocked == []
    assert (work / "desktop.png").stat().st_size > 10_000
    assert [s["id"] for s in steps] == [f"step-{i}" for i in range(1, len(report.equations) + 1)]
    assert [s["line"] for s in steps] == [str(step.line) for step in report.equations]
    labels = {"proved": "proved", "holds": "holds", "false": "FALSE", "unchecked": "unchecked"}
    for shown, step in zip(steps, report.equations):
        assert shown["visible"] and shown["claimMath"] == 1
        (badge,) = shown["badges"]
        assert badge["verdict"] == step.verdict and badge["text"].strip().endswith(labels[step.verdict])
        assert badge["w"] > 0
    colours = {b["verdict"]: b["bg"] for s in steps for b in s["badges"]}
    assert len(set(colours.values())) == len(colours)  # each verdict has its own colour
    assert len(maths) >= len(report.equations)
    for box in maths:
        assert box["w"] > 0 and box["h"] > 0, box
        assert "\\" not in box["text"] and box["display"] != "none", box
    assert {link[1:] for link in summary_links} <= {s["id"] for s in steps}
    assert scrolled_to == f"#{first_false}"


def test_phone_width_scrolls_equations_inside_their_box(browser_session):
    playwright, report, page_path, work = browser_session
    browser, page, blocked = open_report(playwright, page_path, 360, 740, str(work / "phone-profile"))
    try:
        page.screenshot(path=str(work / "phone.png"), full_page=True)
        page_width = page.evaluate("() => document.documentElement.scrollWidth")
        boxes = page.evaluate("""() => Array.from(document.querySelectorAll('.math-box')).map(b => ({
            client: b.clientWidth, scroll: b.scrollWidth, overflow: getComputedStyle(b).overflowX}))""")
        page.emulate_media(media="print")
        printed = page.evaluate("""() => ({
            overflow: getComputedStyle(document.querySelector('.math-box')).overflowX,
            links: getComputedStyle(document.querySelector('table.summary td.links')).display})""")
    finally:
        browser.close()
    assert blocked == []
    assert page_width <= 360  # nothing pushes the page sideways
    assert all(b["overflow"] == "auto" for b in boxes)
    assert any(b["scroll"] > b["client"] for b in boxes)  # the sample's long formulas scroll in their box
    assert printed == {"overflow": "visible", "links": "table-cell"}


if __name__ == "__main__":  # regenerate the docs' screenshot (docs/img/check-report.png)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root
    from tests.render.support import sample_report

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img/check-report.png")
    write_screenshot(sample_report(), target)
    print(f"wrote {target} ({target.stat().st_size} bytes)")
