"""The documentation site (`make docs`, tools/docs.py): built from a few notebooks, opened in headless Chromium.

The browser follows every sidebar link and checks that each page has its title, every image decodes
(naturalWidth > 0), nothing is fetched from outside the site (it must work offline) and the console stays
free of errors. The fast checks around it: a notebook that fails or runs too long stops the build with its
name and the error, and the tool only replaces a folder it wrote itself."""
import os
import sys
from pathlib import Path

import nbformat
import pytest

from _browser import CHROMIUM_ARGS, chromium_path, require_browser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import docs  # noqa: E402

# index, a fast notebook, and one whose worked example shows figures and rich HTML
SUBSET = ["00_core", "23_evaluate"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "A site built from SUBSET here, or the full site `make docs` built (DOCS_SITE=_docs: the browser test then checks every page)."
    if os.environ.get("DOCS_SITE"): return Path(os.environ["DOCS_SITE"]).resolve()
    out = tmp_path_factory.mktemp("docs") / "site"
    times = docs.build(out, only=SUBSET, timeout=300, log=lambda *a: None)
    assert set(times) == {"index.ipynb"} | {f"{s}.ipynb" for s in SUBSET}
    return out


def _pages(site: Path) -> list:
    "The notebook pages of `site` in notebook order."
    return sorted(p.stem for p in site.glob("*.html") if p.stem != "index")


def test_pages_and_reference(site):
    "One page per notebook; hidden cells and directives gone; show_doc's reference after each exported function."
    expected = sorted(p.stem for p in docs.NBS.glob("*.ipynb") if p.stem != "index") if os.environ.get("DOCS_SITE") else SUBSET
    assert _pages(site) == expected and (site / "index.html").is_file()
    page = (site / "23_evaluate.html").read_text()
    assert "#| export" not in page and "#| hide" not in page and "from fastcore.test import" not in page
    assert '<h3 id="evaluate">evaluate' in page or ">evaluate</h3>" in page    # show_doc(evaluate)
    assert "data:image/png;base64," in page
    home = (site / "index.html").read_text()
    assert 'href="index.html"' in home and 'href="_docs/' not in home    # README's link to the site, from inside the site
    for p in site.glob("*.html"):
        text = p.read_text()
        assert "<script src=" not in text and 'rel="stylesheet"' not in text    # no CDN script or stylesheet
        assert "[source](" not in text


def test_browser_follows_sidebar(site):
    require_browser("the docs site browser test")
    from playwright.sync_api import sync_playwright
    errors, outside = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else (outside.append(r.request.url), r.abort()))
            page.goto((site / "index.html").as_uri())
            assert page.inner_text("h1").strip().startswith("insight_nb")
            links = page.eval_on_selector_all("nav.docs-sidebar li a", "as => as.map(a => [a.getAttribute('href'), a.innerText])")
            assert [h for h, _ in links] == [f"{s}.html" for s in _pages(site)]        # notebook order
            titles = {f"{s}.html": docs.title_of(nbformat.read(str(docs.NBS / f"{s}.ipynb"), as_version=4)) for s in _pages(site)}
            assert all(titles[h] and titles[h] in text for h, text in links), (links, titles)   # titles from first headings
            n_img = {}
            for href, text in links:
                page.click(f"nav.docs-sidebar a[href='{href}']")
                page.wait_for_load_state("load")
                assert page.url.endswith(href)
                assert page.get_attribute("nav.docs-sidebar a.active", "href") == href
                assert page.inner_text("main h1").strip().startswith(titles[href])
                imgs = page.eval_on_selector_all("main img", "is => is.map(i => [i.src.slice(0, 40), i.complete && i.naturalWidth])")
                assert all(w and w > 0 for _, w in imgs), (href, imgs)
                n_img[href] = len(imgs)
                page.click("nav.docs-sidebar a.docs-site-title")
                page.wait_for_load_state("load")
                assert page.url.endswith("index.html")
            assert n_img["23_evaluate.html"] >= 2, n_img                                  # its worked example shows figures
        finally:
            browser.close()
    assert not outside, f"the site fetched from outside itself: {outside}"
    assert not errors, errors


def _nb(path: Path, *sources):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}})
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))


def test_failing_notebook_fails_the_build(tmp_path):
    src = tmp_path / "nbs"; src.mkdir()
    _nb(src / "index.ipynb", "1 + 1")
    _nb(src / "01_bad.ipynb", "x = 1", "#| notest\nraise RuntimeError('skipped like nbdev_test')", "1 / 0")
    with pytest.raises(docs.DocsError, match=r"(?s)01_bad\.ipynb: a cell failed.*1 / 0.*ZeroDivisionError"):
        docs.build(tmp_path / "site", src=src, timeout=120, log=lambda *a: None)
    assert not (tmp_path / "site").exists() and not list(tmp_path.glob(".site.building-*"))


def test_notebook_time_limit(tmp_path):
    src = tmp_path / "nbs"; src.mkdir()
    _nb(src / "index.ipynb", "import time", "time.sleep(1)", "time.sleep(1)", "time.sleep(60)")
    with pytest.raises(docs.DocsError, match=r"(?s)index\.ipynb: did not finish within 4 s.*time\.sleep\(60\)"):
        docs.build(tmp_path / "site", src=src, timeout=4, log=lambda *a: None)


def test_only_replaces_its_own_folder(tmp_path):
    mine = tmp_path / "notes"; mine.mkdir(); (mine / "keep.txt").write_text("mine")
    built = tmp_path / ".build"; built.mkdir()
    with pytest.raises(docs.DocsError, match="not written by tools/docs.py"): docs.replace_folder(built, mine)
    assert (mine / "keep.txt").read_text() == "mine"
    with pytest.raises(docs.DocsError, match="--only 99_nope"): docs.notebooks(["99_nope"])


def _png(path: Path, w=3, h=2):
    import struct, zlib
    raw = b"".join(b"\0" + b"\xff\x00\x00" * w for _ in range(h))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_markdown_images_inlined(tmp_path):
    "A screenshot linked from a markdown cell (`![..](images/x.png)`) is in the page as data, so it shows offline from any folder."
    src = tmp_path / "nbs"; (src / "images").mkdir(parents=True)
    _png(src / "images" / "shot.png")
    _nb(src / "index.ipynb", "1 + 1")
    _nb(src / "01_pics.ipynb", "2 + 2")
    nb = nbformat.read(str(src / "01_pics.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("The studio:\n\n![a screenshot](images/shot.png)\n\n![remote](https://example.org/x.png)"))
    nbformat.write(nb, str(src / "01_pics.ipynb"))
    docs.build(tmp_path / "site", src=src, timeout=120, log=lambda *a: None)
    page = (tmp_path / "site" / "01_pics.html").read_text()
    assert 'src="data:image/png;base64,' in page and 'src="images/shot.png"' not in page
    assert 'src="https://example.org/x.png"' in page            # only local files are inlined
    nb.cells.append(nbformat.v4.new_markdown_cell("![gone](images/missing.png)"))
    nbformat.write(nb, str(src / "01_pics.ipynb"))
    with pytest.raises(docs.DocsError, match=r"01_pics\.ipynb: the image 'images/missing\.png' is not a file"):
        docs.build(tmp_path / "site2", src=src, timeout=120, log=lambda *a: None)


def test_prepare_directives():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("#| default_exp x"), nbformat.v4.new_code_cell("#| export\ndef f(): pass\ndef _g(): pass\nclass C: pass"),
                nbformat.v4.new_code_cell("#| hide\nimport os"), nbformat.v4.new_code_cell("#| eval: false\nslow()"),
                nbformat.v4.new_code_cell("#| exporti\ndef h(): pass")]
    cells = docs.prepare(nb).cells
    tags = lambda c: c.metadata.get("tags", [])
    assert [c.source for c in cells if "docs-show-doc" in tags(c)] == ["show_doc(f)", "show_doc(C)"]
    hidden = [c.source for c in cells if "docs-hide" in tags(c)]
    assert hidden == ["from nbdev.showdoc import show_doc", "#| default_exp x", "import os"], hidden
    assert "skip-execution" in tags(next(c for c in cells if c.source == "slow()"))
    assert not any(c.source.startswith("#|") for c in cells if "docs-hide" not in tags(c))
