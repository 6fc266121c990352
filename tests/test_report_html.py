"""report.html in a real browser: headless Chromium (through Playwright) opens a small Telco report from disk, with
the network cut off, and checks that the page logs no console errors, that every figure is an embedded PNG (a data:
URI) that loaded (naturalWidth > 0) and is visible, and saves a screenshot (its path is printed).

Needs `pip install playwright` (dev requirements) and Chromium from the OS packages (`apt-get install chromium`, or
INSIGHT_NB_CHROMIUM=/path); `playwright install` is not used. Skipped when those are missing, failed instead when $CI is set."""

import pytest

from _browser import CHROMIUM_ARGS, chromium_path, require_browser
from insight_nb.data import load_demo
from insight_nb.report import run_report



@pytest.fixture(scope="module")
def browser():
    require_browser("the report HTML test")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try: yield b
        finally: b.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("html")
    load_demo("telco_churn").iloc[:800].to_csv(d / "telco.csv", index=False)
    return run_report(d / "telco.csv", "Churn", params=dict(cv=2, models=["sk_logreg"], n_boot=0, sensitive=["gender"]), out=d / "out",
                      kernel_env={"OMP_NUM_THREADS": "1"})


def test_report_html_in_chromium(browser, report, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "assert") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.route("http*://**", lambda route: route.abort())  # a report must not need the network
    page.goto(report.html.resolve().as_uri(), wait_until="load")
    imgs = page.eval_on_selector_all("img", "els => els.map(e => ({src: e.getAttribute('src').slice(0, 22), w: e.naturalWidth, "
                                             "h: e.naturalHeight, complete: e.complete, alt: e.alt}))")
    # the evaluation figures, the drivers, the targeting plan and fairness at least
    assert len(imgs) >= 4, imgs
    for i, im in enumerate(imgs):
        assert im["src"].startswith("data:image/png;base64"), im
        assert im["complete"] and im["w"] > 0 and im["h"] > 0, im
        loc = page.locator("img").nth(i)
        loc.scroll_into_view_if_needed()
        assert loc.is_visible(), im
    assert not [u for u in requests if not u.startswith(("file:", "data:", "about:"))], requests
    assert not problems, problems
    assert page.title() and page.locator("text=What drives the prediction").count() >= 1
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    page.close()
