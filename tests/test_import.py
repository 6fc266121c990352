"""`import insight_nb` must stay light: no torch, no transformers (its speed is measured by `make bench`)."""
import json
import subprocess
import sys

HEAVY = ["torch", "transformers", "sklearn", "matplotlib", "pandas"]

def loaded_after(stmt: str) -> dict:
    code = f"import sys, json; {stmt}; print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)

def printed_by(code: str) -> list:
    "The words a fresh Python process running `code` prints (it must succeed)."
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()

def test_import_package_is_light():
    assert not any(loaded_after("import insight_nb").values())

def test_data_layer_does_not_import_torch():
    mods = loaded_after("import insight_nb.dataset, insight_nb.cli")
    assert not mods["torch"] and not mods["transformers"]

def test_lazy_submodule_access():
    import insight_nb
    assert insight_nb.schema.ROLES[0] == "target"

def test_training_a_tabular_torch_model_does_not_import_the_compiler():
    "torch.optim's wrappers import torch._dynamo (about 2 s per process); the Learner's CPU Adam does not: a report's MLP stays cheap."
    code = ("import sys, numpy as np, pandas as pd\n"
            "from insight_nb.models import TorchTabularClassifier\n"
            "rng = np.random.default_rng(0); X = pd.DataFrame({'a': rng.normal(size=200), 'b': rng.choice(list('xyz'), 200)})\n"
            "m = TorchTabularClassifier(epochs=3, seed=0).fit(X, (X.a > 0).map({True: 'yes', False: 'no'}))\n"
            "assert m.predict_proba(X).shape == (200, 2)\n"
            "print('torch._dynamo' in sys.modules, 'torch' in sys.modules)")
    assert printed_by(code) == ["False", "True"]

def test_loading_a_scikit_learn_model_does_not_import_torch(tmp_path):
    """skops lists scikit-learn's estimators on import, and scikit-learn's walk imports torch through a vendored package
    (1.4 s per `insight-nb score`); `artifact._skops` walks only the packages kept: no torch, and skops trusts the same types."""
    from insight_nb.artifact import save_model
    from insight_nb.dataset import prepare
    from insight_nb.estimators import sklearn_reference
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare("demo:telco_churn")
    save_model(sklearn_reference("hgb", ds.schema).fit(ds.X.iloc[:500], ds.y.iloc[:500]), tmp_path / "m", dataset=ds)
    code = ("import sys\n"
            "from insight_nb.artifact import load_model\n"
            f"m = load_model({str(tmp_path / 'm')!r})\n"
            "print('torch' in sys.modules)\n"
            "from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES as got\n"
            "from skops.io._utils import get_type_name\n"
            "from sklearn.utils import all_estimators\n"
            "want = [get_type_name(c) for _, c in all_estimators() if get_type_name(c).startswith('sklearn.')]\n"
            "print(len(got) > 100, got == want)")
    assert printed_by(code) == ["False", "True", "True"]
