"""What the browser tests share: where Chromium is, how to start it here, and a clear stop when it is missing."""
import os
import shutil
from pathlib import Path

import pytest

# Debian's Chromium, headless, on a machine with no network (never `playwright install`).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-quic", "--disable-sync", "--disable-dev-shm-usage"]

def chromium_path():
    for c in (os.environ.get("INSIGHT_NB_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if c and Path(c).exists(): return c
    return None

def require_browser(what: str, lab: bool = False) -> None:
    "Skip locally, fail in CI, when Playwright, Chromium (or JupyterLab) are missing."
    missing = []
    try: import playwright.sync_api  # noqa: F401
    except ImportError: missing.append("playwright (pip install playwright)")
    if lab:
        try: import jupyterlab  # noqa: F401
        except ImportError: missing.append("jupyterlab (pip install jupyterlab)")
    if chromium_path() is None: missing.append("Chromium (apt-get install -y chromium, or set INSIGHT_NB_CHROMIUM)")
    if missing:
        msg = f"{what} needs " + ", ".join(missing)
        if os.environ.get("CI"): pytest.fail(msg)
        pytest.skip(msg)
