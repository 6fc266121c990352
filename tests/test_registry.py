"""One recipe, three doors: models live in one registry (insight_nb.registry), recipes carry their settings as data,
and what the studio exports runs with the stock template from a fresh shell with the studio's numbers.

The fresh-shell runs are real `insight-nb report` subprocesses on small data (800 Telco rows, cv=2, no bootstrap)."""
import json
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from insight_nb import registry
from insight_nb.core import InsightError

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "insight-nb")
TORCH_MLP = {"torch_mlp": {"hidden": [32, 16], "epochs": 5}}


def cli(*args, cwd=None, env=None, timeout=300):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def quiet(f, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **kw)


@pytest.fixture(scope="module")
def telco_csv(tmp_path_factory):
    "The first 800 Telco rows as a CSV file (a report's data must be a file)."
    from insight_nb.data import load_table
    p = tmp_path_factory.mktemp("data") / "telco800.csv"
    load_table("demo:telco_churn").head(800).to_csv(p, index=False)
    return p


def report_metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


# ---- the studio's export runs from a fresh shell with the stock template and gives the studio's numbers

def test_studio_export_runs_in_a_fresh_shell(telco_csv, tmp_path):
    from insight_nb.data import load_table
    from insight_nb.widgets import InsightStudio
    frame = load_table(telco_csv)
    s = InsightStudio(frame, target="Churn", family="mlp", epochs=3, hidden=32, n_boot=0, cv=2, seed=1)
    s.train(wait=True)
    assert s.state == "done", s.status.value
    exp = s.export(tmp_path / "export" / "recipe.yaml")
    text = exp.recipe_path.read_text()
    assert "template: tabular_report" in text and "{torch_mlp: {" in text      # the stock template; settings as YAML data
    assert sorted(p.name for p in exp.recipe_path.parent.iterdir()) == [".insight-nb.json", "data.parquet", "recipe.yaml"]
    out = tmp_path / "report"
    r = cli("report", "--config", exp.recipe_path, "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    m = report_metrics(out)
    studio = s.results.metrics
    assert {k: m["test"][k] for k in studio} == studio                            # exactly the studio's test metrics
    (name, params), = registry.check_models(exp.recipe.models)
    assert (m["models"][0]["model"], m["models"][0]["params"]) == (name, params)   # name and parameters as data
    assert m["best_model"] == s.results.model
    report_nb = (out / "report.ipynb").read_text()
    assert "insight_nb.widgets" not in report_nb and "ensure_candidates" not in report_nb
    assert json.loads((out / "manifest.json").read_text())["template"].endswith("insight_nb/templates/tabular_report.ipynb")


def test_export_never_replaces_a_user_file(tmp_path):
    import pandas as pd
    from insight_nb.widgets import InsightStudio
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=200), "y": rng.choice(["a", "b"], 200)})
    s = InsightStudio(df, target="y", family="logistic", epochs=1, n_boot=0)
    (tmp_path / "recipe.yaml").write_text("mine\n")
    with pytest.raises(InsightError, match="not written by insight-nb"): s.export(tmp_path / "recipe.yaml")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.parquet").write_bytes(b"my data")
    with pytest.raises(InsightError, match="data.parquet exists and was not written by insight-nb"): s.export(tmp_path / "sub" / "recipe.yaml")
    assert (tmp_path / "recipe.yaml").read_text() == "mine\n" and (tmp_path / "sub" / "data.parquet").read_bytes() == b"my data"
    assert not (tmp_path / "sub" / "recipe.yaml").exists()                        # refused before anything was written
    exp = s.export(tmp_path / "new" / "recipe.yaml")
    s.export(tmp_path / "new" / "recipe.yaml")                                    # its own files are replaced
    assert exp.data_path.exists()


# ---- models as data on the command line, from a fresh shell

def test_parameterised_model_from_a_fresh_shell(telco_csv, tmp_path):
    from insight_nb.compare import compare
    from insight_nb.dataset import prepare
    from insight_nb.recipe import Recipe
    out = tmp_path / "report"
    r = cli("report", telco_csv, "--target", "Churn", "-p", "models=[{torch_mlp: {hidden: [32, 16], epochs: 5}}]", "-p", "cv=2",
            "-p", "n_boot=0", "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    m = report_metrics(out)
    row, = m["models"]
    assert (row["name"], row["model"], row["params"]) == ("torch_mlp(hidden=[32, 16], epochs=5)", "torch_mlp", TORCH_MLP["torch_mlp"])
    assert m["recipe"]["models"] == [TORCH_MLP]
    rec = Recipe(source=str(telco_csv), target="Churn", cv=2, n_boot=0, models=[TORCH_MLP])
    ds = quiet(prepare, rec.source, rec.target, **rec.data_options())
    board = quiet(compare, ds, rec.models, cv=rec.cv, test=rec.test, seed=rec.seed, n_boot=0)
    here = board.results[0]
    assert here["test"] == {k: row["test"][k] for k in here["test"]} and here["cv"] == row["cv"]
    est = board.estimators[here["name"]][0]
    assert (est.hidden, est.epochs) == ([32, 16], 5)


def test_text_model_by_name_from_a_fresh_shell(tmp_path):
    "A text model needs no import of insight_nb.embeddings by whoever checks the recipe: the registry knows it."
    from insight_nb.compare import compare
    from insight_nb.data import load_table
    from insight_nb.dataset import prepare
    from insight_nb.recipe import Recipe
    bank = load_table("demo:banking77")
    keep = bank.category.value_counts().index[:3]
    small = bank[bank.category.isin(keep)].groupby("category").head(40).reset_index(drop=True)
    csv = tmp_path / "banking_small.csv"
    small.to_csv(csv, index=False)
    env = dict(__import__("os").environ, INSIGHT_NB_EMBEDDING_CACHE=str(tmp_path / "cache"))
    out = tmp_path / "report"
    r = cli("report", csv, "--target", "category", "--template", "text_report", "-p", "models=[text_embed_logreg]", "-p", "cv=2",
            "-p", "n_boot=0", "--out", out, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    m = report_metrics(out)
    row, = m["models"]
    assert (row["name"], row["model"], row["params"], row["status"]) == ("text_embed_logreg", "text_embed_logreg", {}, "ok")
    rec = Recipe(source=str(csv), target="category", cv=2, n_boot=0, models=["text_embed_logreg"], template="text_report")
    ds = quiet(prepare, rec.source, rec.target, **rec.data_options())
    board = quiet(compare, ds, rec.models, cv=rec.cv, test=rec.test, seed=rec.seed, n_boot=0)
    here = board.results[0]["test"]
    assert here == {k: row["test"][k] for k in here}


# ---- refused before a kernel starts

@pytest.mark.parametrize("models, expect", [
    ("[torch_mpl]", "Did you mean 'torch_mlp'"),
    ("[{sk_logreg: {c: 0.5}}]", "Did you mean 'C'"),
])
def test_bad_models_refused_before_a_kernel(telco_csv, tmp_path, models, expect):
    out = tmp_path / "never"
    r = cli("report", telco_csv, "--target", "Churn", "-p", f"models={models}", "--out", out, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expect in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not any(p.name.startswith(".never") for p in tmp_path.iterdir())


def test_models_in_a_config_file(telco_csv, tmp_path):
    from insight_nb.report import resolve_report
    with pytest.raises(InsightError, match="Did you mean 'hidden'"): resolve_report(telco_csv, "Churn", params=["models=[{torch_mlp: {hiden: [8]}}]"])
    with pytest.raises(InsightError, match="unknown model 'torch_mlp\\(epochs=5\\)'"):        # a code string is a name, never parsed
        resolve_report(telco_csv, "Churn", params=["models=['torch_mlp(epochs=5)']"])
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text(f"data:\n  source: {telco_csv}\n  target: Churn\nevaluation:\n  models: [sk_logreg, {{torch_mlp: {{hidden: [32, 16]}}}}]\n")
    spec = resolve_report(config=cfg)
    assert spec.params["models"] == ["sk_logreg", {"torch_mlp": {"hidden": [32, 16]}}]
    cfg.write_text(f"source: {telco_csv}\ntarget: Churn\nmodels: [{{sk_hgb: {{learning_rat: 0.1}}}}]\n")
    with pytest.raises(InsightError, match="Did you mean 'learning_rate'"): resolve_report(config=cfg)


# ---- the registry itself

def test_pipeline_parameters_map_to_the_final_estimator(telco_ds):
    est = registry.make_model({"sk_logreg": {"C": 0.25, "max_iter": 50}}, telco_ds.schema)
    p = est.get_params()
    assert (p["logisticregression__C"], p["logisticregression__max_iter"]) == (0.25, 50)
    assert registry.make_model({"sk_logreg": {"logisticregression__C": 2.0}}, telco_ds.schema).get_params()["logisticregression__C"] == 2.0
    with pytest.raises(InsightError, match="model 'sk_hgb' has no parameter 'max_iters'.*Did you mean 'max_iter'"):
        registry.make_model({"sk_hgb": {"max_iters": 5}}, telco_ds.schema)


FAKE_PKG = '''
def forest(schema, seed):
    "A random forest on the reference preprocessing (a plug-in model)."
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from insight_nb.estimators import sklearn_preprocessor
    return make_pipeline(sklearn_preprocessor(schema), RandomForestClassifier(n_estimators=20, random_state=seed))
'''


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch):
    "A tiny installed distribution (a dist-info folder on sys.path) declaring the model `fake_forest` as an entry point."
    import importlib
    (tmp_path / "fake_insight_models").mkdir()
    (tmp_path / "fake_insight_models" / "__init__.py").write_text(textwrap.dedent(FAKE_PKG))
    info = tmp_path / "fake_insight_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-insight-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[insight_nb.models]\nfake_forest = fake_insight_models:forest\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))    # what the plug-in registers is forgotten after the test
    yield "fake_forest"
    sys.modules.pop("fake_insight_models", None)


def test_entry_point_model_is_found_by_name(fake_plugin, telco_ds):
    assert fake_plugin not in registry.MODELS and fake_plugin in registry.plugin_names()   # listed, not loaded
    with pytest.raises(InsightError, match="Did you mean 'fake_forest'"): registry.get_model("fake_forrest")
    entry = registry.get_model(fake_plugin)
    assert (entry.source, entry.default) == ("fake-insight-models", False)
    assert registry.model_names(default_only=True) == ["sk_logreg", "sk_hgb", "torch_logreg", "torch_mlp"]   # named only
    assert registry.check_models([{fake_plugin: {"n_estimators": 5}}]) == [(fake_plugin, {"n_estimators": 5})]
    from insight_nb.compare import compare
    board = quiet(compare, telco_ds, [{fake_plugin: {"n_estimators": 5}}], cv=2, test=0.2, n_boot=0)
    r = board.results[0]
    assert r["status"] == "ok" and (r["model"], r["params"]) == (fake_plugin, {"n_estimators": 5})
    assert board.estimators[r["name"]][0].get_params()["randomforestclassifier__n_estimators"] == 5


# ---- one concept in one place

def _code_files():
    for p in sorted((ROOT / "insight_nb").glob("*.py")): yield p, p.read_text()
    for p in sorted((ROOT / "bench").glob("*.py")): yield p, p.read_text()
    for p in sorted((ROOT / "tests").glob("*.py")):
        if p.name != "test_registry.py": yield p, p.read_text()
    for p in sorted((ROOT / "nbs").glob("*.ipynb")):
        src = "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"])
        yield p, src


def test_only_the_registry_registers_built_in_models():
    gone = re.compile(r"\b(CANDIDATES|OPT_IN|register_candidate|register_text_candidates|parse_model_name|candidate_maker|"
                      r"ensure_candidates|compare_resolves|studio_template|STUDIO_CELL)\b")
    offenders = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p, src in _code_files() for m in gone.finditer(src)]
    assert not offenders, offenders
    registers = [p.relative_to(ROOT).as_posix() for p, src in _code_files() if re.search(r"^\s*register_model\(", src, re.M)]
    assert registers == ["insight_nb/registry.py", "nbs/19_registry.ipynb"], registers
    for name in registry.MODELS: assert registry.MODELS[name].source == "insight_nb"


def test_the_registry_is_light():
    code = ("import sys, insight_nb.registry as r; r.check_models(['sk_logreg', 'torch_mlp', 'text_embed_logreg', 'sk_tfidf_logreg']); "
            "print(sorted(m for m in ('torch', 'sklearn', 'transformers', 'insight_nb.widgets', 'insight_nb.embeddings') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_studio_controls_start_at_the_estimator_defaults():
    from insight_nb.models import DEFAULT_LR, TorchTabularClassifier
    from insight_nb.widgets import InsightStudio
    import pandas as pd
    s = InsightStudio(pd.DataFrame({"x": np.arange(100.0), "y": ["a", "b"] * 50}), target="y")
    d = TorchTabularClassifier().get_params()
    assert (s.epochs.value, s.batch_size.value, s.dropout.value) == (d["epochs"], d["batch_size"], d["dropout"])
    assert s.lr.value == pytest.approx(d["lr"] if d["lr"] is not None else DEFAULT_LR[d["model"]])
    (name, params), = registry.check_models(s.recipe().models)
    assert name == "torch_mlp" and params["hidden"] == list(d["hidden"]) and "h/2" in s.hidden.tooltip and "builds hidden layers (64, 32)" in s.hidden_note.value
    assert {k: params[k] for k in ("epochs", "batch_size", "dropout")} == {k: d[k] for k in ("epochs", "batch_size", "dropout")}


# ---- tasks: classification and regression models

@pytest.fixture(scope="module")
def regression_ds():
    "A small regression frame: an amount that depends on a number and a category."
    import pandas as pd
    from insight_nb.dataset import prepare
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=300), "group": rng.choice(["a", "b", "c"], 300)})
    df["amount"] = 50 + 10 * df.x + df.group.map({"a": 0.0, "b": 8.0, "c": -5.0}) + rng.normal(0, 1, 300)
    return quiet(prepare, df, "amount")


def test_a_classifier_is_refused_for_a_regression_target_naming_the_regressors(regression_ds):
    assert regression_ds.task == "regression"
    with pytest.raises(InsightError) as e: registry.check_models(["sk_logreg"], task=regression_ds.task)
    m = str(e.value)
    assert "sk_logreg does not predict numbers; for regression use sk_ridge, sk_hgb, torch_mlp or sk_blend" in m and "sk_ridge" in e.value.fix
    for name in ("torch_logreg", "sk_tfidf_logreg", "text_embed_mlp"):
        with pytest.raises(InsightError, match=f"{name} does not predict numbers"): registry.check_models([name], task="regression")
    with pytest.raises(InsightError, match="sk_ridge does not predict two classes"): registry.check_models(["sk_ridge"], task="binary")
    assert registry.check_models(registry.default_models("regression"), task="regression") == [(n, {}) for n in ["sk_ridge", "sk_hgb", "torch_mlp", "sk_blend"]]
    assert registry.default_models("binary") == registry.default_models("multiclass") == ["sk_logreg", "sk_hgb", "torch_mlp"]


@pytest.mark.parametrize("name", ["sk_ridge", "sk_hgb", "sk_blend"])
def test_sklearn_regressors_fit_and_predict(regression_ds, name):
    from sklearn.metrics import r2_score
    from insight_nb.estimators import fit_estimator
    ds = regression_ds
    est = registry.make_model(name, ds.schema, seed=0)
    fit_estimator(est, ds.X.iloc[:220], ds.y.iloc[:220].to_numpy(), ds.schema)
    pred = est.predict(ds.X.iloc[220:])
    assert pred.dtype.kind == "f" and pred.shape == (80,)
    assert r2_score(ds.y.iloc[220:], pred) > 0.8
    key, value = {"sk_ridge": ("ridge__alpha", 3.0), "sk_hgb": ("histgradientboostingregressor__max_iter", 20),
                  "sk_blend": ("blend__hgb__histgradientboostingregressor__max_iter", 20)}[name]   # settings as data, nested for the blend
    short = {"ridge__alpha": "alpha", "histgradientboostingregressor__max_iter": "max_iter"}.get(key, key)
    assert registry.make_model({name: {short: value}}, ds.schema).get_params()[key] == value


def test_torch_mlp_is_a_regressor_on_a_regression_target(regression_ds, telco_ds):
    models = pytest.importorskip("insight_nb.models")
    if not hasattr(models, "TorchTabularRegressor"): pytest.skip("TorchTabularRegressor is not there yet")
    assert type(registry.make_model("torch_mlp", regression_ds.schema)).__name__ == "TorchTabularRegressor"
    assert type(registry.make_model("torch_mlp", telco_ds.schema)).__name__ == "TorchTabularClassifier"
    est = registry.make_model({"torch_mlp": {"hidden": [16], "epochs": 3}}, regression_ds.schema)
    assert est.get_params()["hidden"] == [16]
