"""insight_nb: Jupyter-native notebooks that turn customer and business data into actionable insight.

This file is written by hand (nbdev_export never touches it). It stays tiny on purpose: submodules
import pandas, scikit-learn or torch, and `import insight_nb` must stay fast, so each is imported
only when first used, e.g. `insight_nb.data` or `from insight_nb.data import load_table`.
"""
__version__ = "0.0.1"

import importlib

_SUBMODULES = {"core", "data", "schema", "clean", "profile", "dataset", "recipe", "learner", "callbacks",
               "features", "models", "evaluate", "compare", "artifact", "report", "drivers", "segments", "actions",
               "fairness", "privacy", "findings", "text", "embeddings", "text_insight", "widgets", "cli"}

def __getattr__(name):
    if name in _SUBMODULES: return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'insight_nb' has no attribute {name!r}")
