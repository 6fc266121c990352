"""A real browser drives the InsightStudio: JupyterLab on a loopback port, headless Chromium through Playwright.

It opens a copy of nbs/52_studio_demo.ipynb (the cells up to the one that displays the studio), runs all cells,
clicks Train and watches the progress bar move and the metrics table appear, then starts a long run, clicks Stop
and sees the state go training -> stopping -> done. A screenshot is saved (its path is printed). Needs
`pip install jupyterlab playwright` (the dev requirements) and Chromium from the OS packages (Debian: `apt-get install
chromium`); `playwright install` is not used. Skipped when those are missing, failed instead when $CI is set."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from _browser import CHROMIUM_ARGS, chromium_path, require_browser

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "nbs" / "52_studio_demo.ipynb"
# console messages that are not about the studio (a lab without internet, optional server extensions)
BENIGN = ("favicon", "Failed to load resource", "net::ERR_", "/api/workspaces", "lab/api/", "translations", "nbextension",
          "Could not connect to the language server", "ERR_INTERNET_DISCONNECTED")


def _require():
    require_browser("the browser test", lab=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def studio_notebook(dst: Path) -> Path:
    "The demo's cells up to the one that displays the studio, without outputs or saved widget state."
    import nbformat
    nb = nbformat.read(str(DEMO), as_version=4)
    cells = []
    for c in nb.cells:
        if c.cell_type == "code": c.outputs, c.execution_count = [], None
        cells.append(c)
        if c.cell_type == "code" and c.source.strip() == "studio": break
    else: raise AssertionError(f"{DEMO} has no cell that displays `studio`")
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, str(dst))
    return dst


def start_lab(work: Path, port: int):
    "JupyterLab on 127.0.0.1:port with its settings, workspaces and runtime files inside `work`."
    settings = work / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_CONFIG_DIR=str(work / "config"), PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ServerApp.token=", "--ServerApp.password=",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={work}",
           "--LabApp.expose_app_in_browser=True"]
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    url, t0 = f"http://127.0.0.1:{port}", time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2): break
        except OSError:
            if proc.poll() is not None or time.monotonic() - t0 > 90:
                proc.kill()
                raise RuntimeError("JupyterLab did not start:\n" + (work / "lab.log").read_text()[-3000:])
            time.sleep(0.3)
    return proc, url


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require()
    work = tmp_path_factory.mktemp("lab")
    studio_notebook(work / "studio.ipynb")
    proc, url = start_lab(work, free_port())
    yield url, work
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()


WATCH_STATES = """() => {
  window.__studioStates = [];
  const note = () => {
    const e = document.querySelector('.insight-studio-state');
    const s = e && e.dataset.state;
    const a = window.__studioStates;
    if (s && a[a.length - 1] !== s) a.push(s);
  };
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  note();
}"""
PROGRESS = """() => { const b = document.querySelector('.insight-studio-progress .progress-bar');
                      return b ? parseFloat(b.style.width || '0') : -1; }"""
TRAIN_READY = "() => { const b = document.querySelector('.insight-studio-train'); return !!b && !b.disabled; }"


def test_studio_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright
    url, work = lab
    t_start = time.monotonic()
    shot = Path(tempfile.gettempdir()) / "insight_nb_studio.png"
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1500})
            page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.goto(f"{url}/lab/tree/studio.ipynb")
            page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=120_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(TRAIN_READY, timeout=120_000)
            page.evaluate(WATCH_STATES)

            # 1. Train: the progress bar moves, the metrics table appears, the state ends in "done"
            page.locator(".insight-studio-train").first.click()
            page.wait_for_selector(".insight-studio-state[data-state=training]", timeout=30_000)
            page.wait_for_function(f"() => ({PROGRESS})() > 0", timeout=120_000)
            seen = [page.evaluate(PROGRESS)]
            page.wait_for_selector(".insight-studio-state[data-state=done]", timeout=180_000)
            seen.append(page.evaluate(PROGRESS))
            assert 0 < seen[0] <= seen[-1] and seen[-1] == pytest.approx(100, abs=0.5), seen
            page.wait_for_selector(".insight-studio-metrics-table table", timeout=30_000)
            assert "roc_auc" in page.inner_text(".insight-studio-metrics-table")
            assert page.locator(".insight-studio-chart").first.get_attribute("src").startswith(("blob:", "data:"))

            # 2. A long run, stopped from the browser: training -> stopping -> done ("stopped by the user")
            readout = page.locator(".insight-studio-epochs .widget-readout").first
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("300")
            page.keyboard.press("Enter")
            page.wait_for_function("() => document.querySelector('.insight-studio-epochs .widget-readout').textContent.trim() === '300'")
            page.evaluate("() => { window.__studioStates = []; }")
            page.locator(".insight-studio-train").first.click()
            page.wait_for_selector(".insight-studio-state[data-state=training]", timeout=30_000)
            page.wait_for_function("() => /epoch [2-9]/.test(document.querySelector('.insight-studio-progress-text').textContent)", timeout=120_000)
            page.locator(".insight-studio-stop").first.click()
            page.wait_for_selector(".insight-studio-state[data-state=done]", timeout=60_000)
            states = page.evaluate("() => window.__studioStates")
            assert states[-3:] == ["training", "stopping", "done"] or states[-2:] == ["stopping", "done"], states
            status = page.inner_text(".insight-studio-status")
            m = re.search(r"stopped by the user after (\d+) epoch", status)
            assert m and 1 <= int(m.group(1)) < 300 and "restored" in status, status
            assert page.evaluate(PROGRESS) < 50
            page.locator(".insight-studio-state").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    severe = [m for m in problems if not any(b in m for b in BENIGN)]
    print(f"\nscreenshot: {shot}\nbrowser test: {time.monotonic() - t_start:.1f} s after the lab started; console errors ignored: "
          f"{len(problems) - len(severe)}")
    assert not severe, severe
