"""Shared fixtures: where the real data sets live, and a scratch folder."""
import os
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

def shared_data_dir() -> Path | None:
    "The shared data folder: $INSIGHT_NB_SHARED_DATA, or shared/data beside the checkout."
    env = os.environ.get("INSIGHT_NB_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data", ROOT / "shared" / "data"]:
        if (cand / "SOURCES.md").exists(): return cand
    return None

@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        if os.environ.get("CI"): pytest.fail("shared/data is missing beside the checkout; CI must provide it")
        pytest.skip("shared/data not found beside the checkout (set INSIGHT_NB_SHARED_DATA)")
    return d

@pytest.fixture(scope="session")
def telco_ds():
    "The bundled Telco churn data, prepared once for the whole session (tests must not modify it)."
    from insight_nb.dataset import prepare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare("demo:telco_churn")

@pytest.fixture(autouse=True)
def _quiet_insight_warnings():
    from insight_nb.core import InsightWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsightWarning)
        yield
