"""Edit notebooks as text: `python tools/nbpy.py out nbs/01_x.ipynb x.py` writes a percent-format script,
`python tools/nbpy.py in x.py nbs/01_x.ipynb` writes it back as a clean notebook (outputs dropped,
standard kernelspec, no jupytext metadata). Needs jupytext (`pip install jupytext`).
The notebook stays the source of truth: the script is a scratch copy for editing.
"""
import sys
import jupytext

KERNEL = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}

def to_notebook(src, dst):
    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata = dict(KERNEL)
    # keep the ids of cells whose text did not change, so the exported modules' "# %% ... #id" lines stay put
    try: old = {c.source: c.get("id") for c in jupytext.read(dst).cells}
    except FileNotFoundError: old = {}
    used = set()
    for c in nb.cells:
        c.metadata = {k: v for k, v in c.metadata.items() if k == "tags"}
        if c.cell_type == "code": c.outputs, c.execution_count = [], None
        cid = old.get(c.source)
        if cid and cid not in used: c["id"] = cid
        used.add(c.get("id"))
    jupytext.write(nb, dst, fmt="ipynb")

def to_script(src, dst):
    jupytext.write(jupytext.read(src), dst, fmt="py:percent")

if __name__ == "__main__":
    cmd, src, dst = sys.argv[1:4]
    {"in": to_notebook, "out": to_script}[cmd](src, dst)
