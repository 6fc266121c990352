"""`import insight_nb` must stay light: no torch, no transformers (its speed is measured by `make bench`)."""
import json
import subprocess
import sys

HEAVY = ["torch", "transformers", "sklearn", "matplotlib", "pandas"]

def loaded_after(stmt: str) -> dict:
    code = f"import sys, json; {stmt}; print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)

def test_import_package_is_light():
    assert not any(loaded_after("import insight_nb").values())

def test_data_layer_does_not_import_torch():
    mods = loaded_after("import insight_nb.dataset, insight_nb.cli")
    assert not mods["torch"] and not mods["transformers"]

def test_lazy_submodule_access():
    import insight_nb
    assert insight_nb.schema.ROLES[0] == "target"
