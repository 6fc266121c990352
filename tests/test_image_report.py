"""The image report door (issue 15): a folder of class subfolders is routed to `image_report` without --template, the
report is complete (report.ipynb, report.html, metrics.json, findings.json, reference.json, manifest.json, model/), and
its HTML shows the confusion matrix, the mistakes gallery and the saliency maps; in headless Chromium every image is an
embedded PNG that loads (a screenshot is saved). A small real subset of cats_dogs, a tiny network, two epochs."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _browser import CHROMIUM_ARGS, chromium_path, require_browser
from insight_nb.report import resolve_report, run_report

from conftest import shared_data_dir

CATS_DOGS = (shared_data_dir() or Path("no-shared-data")) / "cats_dogs"   # beside the checkout, when it is there


def _folder(root: Path, n: int = 16) -> Path:
    "train/ and test/ with `n` photos per class (cats_dogs when present, else generated)."
    rng = np.random.default_rng(0)
    for s in ("train", "test"):
        for c in ("cats", "dogs"):
            d = root / s / c; d.mkdir(parents=True)
            src = sorted((CATS_DOGS / s / c).iterdir())[:n] if (CATS_DOGS / s / c).is_dir() else []
            for i in range(n):
                if src: shutil.copy(src[i], d / src[i].name)
                else: Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(d / f"{c}{i}.png")
    return root


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgrep")
    src = _folder(d / "photos")
    return run_report(src, None, params=dict(image_settings={"epochs": 2, "widths": [8, 16], "blocks": 1}, n_boot=50), out=d / "out",
                      kernel_env={"OMP_NUM_THREADS": "1"})


def test_image_folder_is_routed_without_template(tmp_path):
    spec = resolve_report(_folder(tmp_path / "p", 2))
    assert spec.template.stem == "image_report" and "train/ and test/" in spec.route["reason"]


def test_image_report_is_complete(report):
    out = report.out
    for f in ("report.ipynb", "report.html", "metrics.json", "findings.json", "reference.json", "manifest.json"):
        assert (out / f).is_file(), f
    assert (out / "model" / "model.safetensors").is_file() and report.status == "ok"
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "image_classification" and m["test"]["n"] == 32 and m["classes"] == ["cats", "dogs"]
    html = (out / "report.html").read_text()
    for part in ("Confusion matrix", "Most confidently wrong", "Saliency maps", "Image cleaning report", "Images per class"):
        assert part in html, part


def test_image_report_html_in_chromium(report, tmp_path):
    require_browser("the image report HTML test")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("http*://**", lambda route: route.abort())
            page.goto(report.html.resolve().as_uri(), wait_until="load")
            imgs = page.eval_on_selector_all("img", "els => els.map(e => ({src: e.getAttribute('src').slice(0, 22), w: e.naturalWidth, complete: e.complete}))")
            assert len(imgs) >= 20, len(imgs)
            assert all(i["src"].startswith("data:image/png;base64") and i["complete"] and i["w"] > 0 for i in imgs), imgs
            for section in (".insight-confusion", ".insight-gallery img", ".insight-saliency img"):
                assert page.locator(section).count() >= 1, section
            page.locator(".insight-saliency img").first.scroll_into_view_if_needed()
            assert page.locator(".insight-saliency img").first.is_visible()
            shot = tmp_path / "image_report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            print(f"screenshot: {shot}")
        finally: browser.close()
