"""insight_nb: Jupyter-native notebooks that turn customer and business data into actionable insight.

This file is written by hand (nbdev_export never touches it). It stays tiny on purpose: submodules
import pandas, scikit-learn or torch, and `import insight_nb` must stay fast, so each is imported
only when first used, e.g. `insight_nb.data` or `from insight_nb.data import load_table`.
"""
__version__ = "0.0.1"

import importlib
from pathlib import Path

_HERE = Path(__file__).parent

def __getattr__(name):
    # any module of the package, found by its file, so a new notebook's module needs no entry here
    if name.isidentifier() and not name.startswith("_") and (_HERE / f"{name}.py").is_file():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'insight_nb' has no attribute {name!r}")
