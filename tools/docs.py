"""Build the documentation site from nbs/ without Quarto: `python tools/docs.py [--out _docs] [--only 00 07] [--timeout 900] [--jobs 1]`.

Each notebook is executed the way `nbdev_test` runs it (its own folder, nbs/, as the working directory; cells marked
`#| notest`, `#| eval: false` or calling `nbdev_export(` are not run), with a time limit for the whole notebook, and
rendered by nbconvert into one HTML page: `#| hide` cells dropped, directive lines stripped, and nbdev's `show_doc`
(the API reference) after every cell that exports a public function or class. Every page shares a sidebar in notebook
order (titles from each notebook's first heading); nbs/index.ipynb becomes index.html. The pages work offline: figures
are embedded (base64 PNG/SVG), images that markdown links from nbs/ (the studio screenshots) are inlined as well, the CSS is inlined, and nbconvert's CDN scripts (require.js, MathJax, mermaid, the
widget manager) are left out.

A notebook that fails or runs out of time stops the build (exit status 1) with the notebook's name, the cell and the
error. The output folder is replaced as a whole, only if it is empty or was written by this tool (it holds `.docs-site`).
`make docs` runs this, or `nbdev_docs` when Quarto is on PATH.
"""
import argparse
import ast
import concurrent.futures as cf
import html
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
MARKER = ".docs-site"
SKIP_FLAGS = {"notest"}   # settings.ini tst_flags: cells nbdev_test does not run are not run here either
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class DocsError(Exception):
    "A notebook failed to execute or render, or the output folder is not ours to replace."


def title_of(nb) -> str:
    "The text of the notebook's first `# ` heading (its file name when it has none)."
    for c in nb["cells"]:
        if c["cell_type"] != "markdown": continue
        for line in _src(c).splitlines():
            if line.startswith("# "): return line[2:].strip()
    return ""


def notebooks(only=None, src=NBS) -> list:
    "index.ipynb, then the numbered notebooks of `src` in order; `only`: names or prefixes (`07`, `23_evaluate`) to keep besides the index."
    src = Path(src)
    if not (src / "index.ipynb").exists(): raise DocsError(f"{src} has no index.ipynb: the site's home page is built from it")
    nbs = sorted(p for p in src.glob("*.ipynb") if p.stem != "index" and not p.stem.startswith("_"))
    if only:
        nbs = [p for p in nbs if any(p.stem == o or p.stem.startswith(o) or p.name == o for o in only)]
        missing = [o for o in only if not any(p.stem.startswith(o) or p.name == o for p in nbs)]
        if missing: raise DocsError(f"--only {' '.join(missing)}: no notebook in {src} has that name or prefix; "
                                    f"pick from {[p.stem for p in sorted(src.glob('*.ipynb'))]}")
    return [src / "index.ipynb"] + nbs


def _src(cell) -> str:
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def directives(source: str) -> dict:
    "nbdev's `#| name` / `#| name: value` lines at the top of a cell, as {name: value}."
    out = {}
    for line in source.splitlines():
        if not line.startswith("#|"):
            if line.strip(): break
            continue
        rest = line[2:].strip()
        name, value = rest.split(":", 1) if ":" in rest.split(" ")[0] else (rest.split(" ")[0], rest[len(rest.split(" ")[0]):])
        out[name.strip()] = value.strip()
    return out


def public_defs(source: str) -> list:
    "Names of the public top-level functions and classes a cell defines (what nbdev documents with `show_doc`)."
    try: tree = ast.parse("\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!"))))
    except SyntaxError: return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def prepare(nb):
    "The notebook to execute: cells to skip tagged, `show_doc` cells after exported definitions, hidden cells marked."
    import nbformat
    cells = [nbformat.v4.new_code_cell("from nbdev.showdoc import show_doc", metadata={"tags": ["docs-hide"]})]
    for c in nb.cells:
        d = directives(_src(c))
        tags = c.metadata.setdefault("tags", [])
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
            if SKIP_FLAGS & d.keys() or d.get("eval", "").lower() == "false" or "nbdev_export(" in _src(c): tags.append("skip-execution")
        if "hide" in d: tags.append("docs-hide")
        if "echo" in d and d["echo"].lower() == "false": c.metadata["transient"] = {"remove_source": True}
        if "output" in d and d["output"].lower() == "false": tags.append("docs-hide-output")
        body = "\n".join(l for l in _src(c).splitlines() if not l.startswith("#|")).strip()
        if not body: tags.append("docs-hide")
        else: c.source = body
        cells.append(c)
        if c.cell_type == "code" and {"export", "exports"} & d.keys() and "skip-execution" not in tags:
            for name in public_defs(body):
                cells.append(nbformat.v4.new_code_cell(f"show_doc({name})", metadata={"tags": ["docs-show-doc"], "transient": {"remove_source": True}}))
    nb.cells = cells
    return nb


def execute(path, timeout: float):
    "Execute the notebook at `path` in a fresh kernel (cwd: its folder) within `timeout` seconds in all; returns (notebook, seconds)."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    path = Path(path)
    nb = prepare(nbformat.read(str(path), as_version=4))
    t0 = time.monotonic(); deadline = t0 + timeout
    current = {}
    client = NotebookClient(nb, kernel_name="python3", timeout_func=lambda cell: max(1, deadline - time.monotonic()),
                            startup_timeout=120, extra_arguments=["--IPKernelApp.log_level=ERROR"], resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=lambda cell, cell_index: current.update(cell=cell))
    # the inline backend shows figures even when the caller set MPLBACKEND=Agg
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline", PYDEVD_DISABLE_FILE_VALIDATION="1")
    try: client.execute(env=env)
    except CellTimeoutError:
        raise DocsError(f"{path.name}: did not finish within {timeout:g} s (per-notebook limit, --timeout); it was running:\n"
                        f"{_snippet(current.get('cell'))}") from None
    except CellExecutionError as e:   # its text: the cell's source, then the traceback
        lines = ANSI.sub("", str(e)).strip().splitlines()
        raise DocsError(f"{path.name}: a cell failed\n" + "\n".join(lines[:12] + ["  ..."] + lines[-30:] if len(lines) > 45 else lines)) from None
    except DeadKernelError as e:
        raise DocsError(f"{path.name}: the kernel died ({e}) while running:\n{_snippet(current.get('cell'))}") from None
    return nb, time.monotonic() - t0


def _snippet(cell) -> str:
    if cell is None: return "(before the first cell: kernel start)"
    lines = _src(cell).splitlines()
    return "  | " + "\n  | ".join(lines[:8] + (["..."] if len(lines) > 8 else []))


_SOURCE_LINK = re.compile(r"^\[source\]\([^)]*\)\{[^}]*\}\s*$", re.M)

def tidy(nb):
    "Drop hidden cells and outputs; take the GitHub `[source]` link (a host this site does not have) out of `show_doc`'s text."
    keep = []
    for c in nb.cells:
        tags = c.metadata.get("tags", [])
        if "docs-hide" in tags: continue
        if "docs-hide-output" in tags: c.outputs = []
        if "docs-show-doc" in tags:
            for o in c.get("outputs", []):
                if "text/markdown" in o.get("data", {}): o["data"]["text/markdown"] = _SOURCE_LINK.sub("", o["data"]["text/markdown"])
        keep.append(c)
    nb.cells = keep
    return nb


CSS = """
body.jp-Notebook { margin: 0; padding: 0; overflow: visible; }
nav.docs-sidebar { position: fixed; top: 0; left: 0; bottom: 0; width: 15rem; overflow-y: auto; padding: 1rem 0.75rem;
  box-sizing: border-box; background: #f6f7f9; border-right: 1px solid #dde1e6; font: 14px/1.45 system-ui, sans-serif; }
nav.docs-sidebar .docs-site-title { font-weight: 600; font-size: 16px; display: block; margin-bottom: 0.75rem; color: #111; text-decoration: none; }
nav.docs-sidebar ol { list-style: none; margin: 0; padding: 0; }
nav.docs-sidebar li a { display: block; padding: 2px 6px; border-radius: 4px; color: #1a4d8f; text-decoration: none; }
nav.docs-sidebar li a:hover { background: #e6ebf2; }
nav.docs-sidebar li a.active { background: #1a4d8f; color: #fff; }
nav.docs-sidebar .num { display: inline-block; width: 1.7rem; color: #777; font-variant-numeric: tabular-nums; }
nav.docs-sidebar li a.active .num { color: #dde; }
main.docs-page { margin-left: 15rem; padding: 1rem 2rem 3rem; max-width: 70rem; }
main.docs-page .jp-OutputArea-output img { max-width: 100%; height: auto; }
main.docs-page .jp-RenderedMarkdown pre { background: #f5f6f8; border: 1px solid #e3e6ea; border-radius: 4px; padding: 0.5em 0.75em;
  margin: 0.6em 0 1em; overflow-x: auto; }
"""

TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}<link rel="icon" href="data:,">{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block extra_css %}<style type="text/css">{{ resources.docs_css }}</style>{% endblock extra_css %}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.docs_sidebar }}
<main class="docs-page">
{%- endblock body_header -%}
"""


def sidebar(pages, active: str) -> str:
    "The shared navigation: the index, then every notebook in order, `active` highlighted."
    items = []
    for stem, title in pages:
        if stem == "index": continue
        num, _, _ = stem.partition("_")
        cls = ' class="active"' if stem == active else ""
        items.append(f'<li><a href="{html.escape(stem)}.html"{cls}><span class="num">{html.escape(num)}</span>{html.escape(title)}</a></li>')
    home = dict(pages).get("index", "Home")
    cls = " active" if active == "index" else ""
    return (f'<nav class="docs-sidebar"><a class="docs-site-title{cls}" href="index.html">{html.escape(home)}</a>'
            f'<ol>{"".join(items)}</ol></nav>')


_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}

def embed_images(body: str, base: Path, page: str = "") -> str:
    """Images that markdown cells link by a relative path (`![..](images/x.png)`), inlined as data URIs so the page works
    offline from any folder. A missing or non-image file stops the build: a broken picture in the docs is a bug."""
    import base64
    import urllib.parse
    def inline(m):
        src = html.unescape(m[2])
        if re.match(r"^(data:|[a-z][a-z0-9+.-]*://|/|#)", src, re.I): return m[0]
        f = (Path(base) / urllib.parse.unquote(src.split("#")[0].split("?")[0])).resolve()
        mime = _MIME.get(f.suffix.lower())
        if mime is None or not f.is_file():
            raise DocsError(f"{page}: the image {src!r} {'is not a file' if mime else 'is not an image'} under {base}; "
                            "fix the link in the notebook's markdown (paths are relative to nbs/)")
        return f"{m[1]}data:{mime};base64,{base64.b64encode(f.read_bytes()).decode()}{m[3]}"
    return _IMG_SRC.sub(inline, body)


def render(nb, stem: str, pages, base: Path = NBS) -> str:
    "One page: the executed notebook through nbconvert's lab template without CDN scripts, with the sidebar; local images inlined."
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    exp = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"docs_site.html.j2": TEMPLATE})], template_file="docs_site.html.j2",
                       exclude_input_prompt=True, exclude_output_prompt=True)
    title = dict(pages).get(stem, stem)
    body, _ = exp.from_notebook_node(nb, resources={"metadata": {"name": title}, "docs_sidebar": sidebar(pages, stem), "docs_css": CSS})
    known = {s for s, _ in pages}
    # links between notebooks go to their pages; README's links into _docs/ (the site's folder) stay inside the site
    body = embed_images(body, base, f"{stem}.ipynb")
    body = re.sub(r'href="(?:\./)?([\w.-]+)\.ipynb(#[^"]*)?"', lambda m: f'href="{m[1]}.html{m[2] or ""}"' if m[1] in known else m[0], body)
    return re.sub(r'href="(?:\./)?_docs/', 'href="', body)


def _run(path: str, timeout: float):
    "Worker: execute one notebook; returns (notebook JSON, seconds) or ('error', message)."
    try:
        nb, s = execute(path, timeout)
        import nbformat
        return nbformat.writes(nb), s
    except DocsError as e: return "error", str(e)


def replace_folder(tmp: Path, out: Path) -> None:
    "Put the built site `tmp` at `out`, replacing an earlier site; never a folder this tool did not write."
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists()):
            raise DocsError(f"{out} exists and was not written by tools/docs.py (no {MARKER} in it): "
                            "pass another --out, or move it away")
        shutil.rmtree(out)
    tmp.rename(out)


def build(out=ROOT / "_docs", only=None, timeout: float = 900, jobs: int = 1, src=NBS, keep_going: bool = False, log=print) -> dict:
    """Execute and render the notebooks of `src` into `out`; returns {notebook: seconds}.
    Raises DocsError naming the failing notebook (`keep_going`: every failing notebook, after trying them all); `out` is then untouched."""
    import nbformat
    out = Path(out).resolve()
    paths = notebooks(only, src)
    pages = [(p.stem, title_of(json.loads(p.read_text(encoding="utf-8"))) or p.stem) for p in paths]
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    if tmp.exists(): shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    times, failed = {}, []
    try:
        (tmp / MARKER).write_text("written by tools/docs.py; `make docs` replaces this folder as a whole\n")
        with cf.ProcessPoolExecutor(max_workers=max(1, jobs)) if jobs > 1 else _Inline() as pool:
            futs = {pool.submit(_run, str(p), timeout): p for p in paths}
            for fut in cf.as_completed(futs) if jobs > 1 else futs:
                p = futs[fut]
                res, s = fut.result()
                if res == "error":
                    log(f"  {p.name}: FAILED")
                    failed.append(s)
                    if keep_going: continue
                    for f in futs: f.cancel()
                    raise DocsError(s)
                nb = tidy(nbformat.reads(res, as_version=4))
                (tmp / f"{p.stem}.html").write_text(render(nb, p.stem, pages, p.parent), encoding="utf-8")
                times[p.name] = round(s, 1)
                log(f"  {p.name}: {s:.1f} s")
        if failed: raise DocsError(f"{len(failed)} notebook(s) failed:\n\n" + "\n\n".join(failed))
        replace_folder(tmp, out)
    finally:
        if tmp.exists(): shutil.rmtree(tmp, ignore_errors=True)
    return times


class _Inline:
    "A stand-in for a process pool with one worker: runs each task when its result is asked for, in this process."
    class _F:
        def __init__(self, fn, args): self.fn, self.args = fn, args
        def result(self): return self.fn(*self.args)
        def cancel(self): pass
    def __enter__(self): return self
    def __exit__(self, *a): return False
    def submit(self, fn, *args): return self._F(fn, args)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "_docs"), help="the site's folder (default: _docs, git-ignored)")
    ap.add_argument("--only", nargs="*", help="notebook names or prefixes to build (the index is always built)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds each notebook may run in all (default 900)")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at once (default 1)")
    ap.add_argument("--keep-going", action="store_true", help="run every notebook, then report all that failed")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    try: times = build(a.out, a.only, a.timeout, a.jobs, keep_going=a.keep_going)
    except DocsError as e:
        print(f"make docs failed: {e}", file=sys.stderr)
        return 1
    print(f"docs: {len(times)} pages in {time.monotonic() - t0:.0f} s -> {Path(a.out).resolve() / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
