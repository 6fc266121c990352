"""Layers read top-down: the package's import graph (module-level and in-function imports alike) has no cycle, and
nothing imports the command line, which sits on top of everything."""
import ast
from pathlib import Path

import insight_nb

PKG = Path(insight_nb.__file__).parent


def imports_of(path: Path) -> set:
    "The insight_nb modules a file imports anywhere in it (top level, functions, `if __name__` blocks)."
    out = set()
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.ImportFrom):
            if n.level == 1: out |= {n.module.split(".")[0]} if n.module else {a.name for a in n.names}
            elif n.module == "insight_nb": out |= {a.name for a in n.names}
            elif n.module and n.module.startswith("insight_nb."): out.add(n.module.split(".")[1])
        elif isinstance(n, ast.Import):
            out |= {a.name.split(".")[1] for a in n.names if a.name.startswith("insight_nb.")}
    return out


def graph() -> dict:
    mods = {p.stem: p for p in PKG.glob("*.py") if p.stem not in ("__init__", "_modidx")}
    return {m: (imports_of(p) & set(mods)) - {m} for m, p in mods.items()}


def cycles(g: dict) -> list:
    "Strongly connected components with more than one module (Tarjan)."
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in sorted(g[v]):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in sorted(g):
        if v not in index: visit(v)
    return out


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    g = graph()
    assert {"report", "cli", "publish", "core"} <= set(g)
    found = cycles(g)
    assert found == [], "import cycles (module-level or in-function): " + "; ".join(
        " <-> ".join(f"{m} imports {sorted(g[m] & set(c))}" for m in c) for c in found)


def test_nothing_imports_the_cli():
    g = graph()
    assert sorted(m for m, deps in g.items() if "cli" in deps) == []


def defined_in(path: Path) -> set:
    "The names a module defines at its top level (functions, classes, assignments)."
    out = set()
    for n in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(n.name)
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            out |= {t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    return out


KERNELS = {"ipc_path", "pinned_kernel_manager_class", "REUSE_TAG", "reuse_cell", "execute_template", "worker_kernel",
           "drop_kernel", "shutdown_kernels", "mark_failure", "describe_failure", "cell_fix"}
RENDER = {"HTML_TEMPLATE", "_strip_for_html", "render_html", "stage_timings", "cell_stage", "template_stages", "StageProgress", "failed_sections"}
# what report.py was split into: the steps a report kernel runs, and the cells and templates (report.py re-exports them)
STEPS = {"best_evaluation", "BusinessThreshold", "business_threshold", "Skipped", "Failed", "section", "show_section",
         "report_drivers", "report_segments", "report_targeting", "report_fairness", "ReportContext", "report_findings",
         "insight_metrics", "report_metrics", "write_outputs"}
CELLS = {"ReportCell", "SETUP_CELL", "REPORT_CELLS", "parameters_source", "new_template", "write_notebook", "TEMPLATES", "TEMPLATE_DIR",
         "build_template", "sync_templates", "template_path", "template_parameters", "parameters_schema"}


def test_kernels_and_rendering_have_one_home():
    """Kernels live in kernels.py and the HTML page in render.py: report.py and sweep.py import them, nothing keeps a copy.
    Likewise the report's steps (steps.py) and its cells and templates (cells.py): report.py imports them, it does not copy them."""
    homes = {"kernels": KERNELS, "render": RENDER, "steps": STEPS, "cells": CELLS}
    for m in sorted(p.stem for p in PKG.glob("*.py") if p.stem not in ("__init__", "_modidx")):
        names = defined_in(PKG / f"{m}.py")
        for home, wanted in homes.items():
            if m == home: assert wanted <= names, f"{home}.py lacks {sorted(wanted - names)}"
            else: assert not (wanted & names), f"{m}.py defines {sorted(wanted & names)}, which belong in {home}.py"
    g = graph()
    assert {"kernels", "render"} <= g["report"] and "kernels" in g["sweep"]
    assert not ({"report", "sweep"} & (g["kernels"] | g["render"])), "kernels and render sit below report and sweep"
    assert {"steps", "cells"} <= g["report"] and not ({"kernels", "render", "report"} & (g["steps"] | g["cells"])), \
        "a report's steps and cells know nothing of running or rendering it"


def notebook_numbers() -> dict:
    "Each exported module and the number of the notebook it comes from (`nbs/17_text.ipynb` -> text: 17)."
    import re
    out = {}
    for nb in (PKG.parent / "nbs").glob("[0-9]*.ipynb"):
        m = re.search(r"#\|\s*default_exp\s+(\w+)", nb.read_text(encoding="utf-8"))
        if m: out[m.group(1)] = int(nb.stem.split("_")[0])
    return out


def test_notebooks_import_only_lower_numbers():
    "Read in order, each notebook builds only on the ones before it (module-level and in-function imports alike)."
    num, g = notebook_numbers(), graph()
    assert set(g) <= set(num), f"modules without a numbered notebook: {sorted(set(g) - set(num))}"
    assert len(set(num.values())) == len(num), "two notebooks share a number"
    bad = sorted(f"{num[m]:02d}_{m} imports {num[d]:02d}_{d}" for m, deps in g.items() for d in deps if num[d] > num[m])
    assert bad == [], "imports of a later notebook: " + "; ".join(bad)
