"""Write README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which is not installed offline).

Cells whose first directive is `#| hide` are dropped, `#|` directive lines are stripped, code cells
become fenced Python blocks followed by their text outputs.
"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _src(cell): return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]

def _outputs(cell):
    for o in cell.get("outputs", []):
        text = o.get("text") or o.get("data", {}).get("text/plain")
        if text: yield "".join(text) if isinstance(text, list) else text

def render(nb):
    parts = []
    for cell in nb["cells"]:
        lines = _src(cell).splitlines()
        directives = [l.replace(" ", "") for l in lines if l.startswith("#|")]
        if "#|hide" in directives: continue
        body = "\n".join(l for l in lines if not l.startswith("#|")).strip()
        if not body: continue
        if cell["cell_type"] == "markdown": parts.append(body)
        elif cell["cell_type"] == "code":
            parts.append(f"```python\n{body}\n```")
            parts += [f"```\n{t.rstrip()}\n```" for t in _outputs(cell)]
    return "\n\n".join(parts) + "\n"

if __name__ == "__main__":
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text(encoding="utf-8"))
    header = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, then `make export`. -->\n\n"
    (ROOT / "README.md").write_text(header + render(nb), encoding="utf-8")
