"""Issue 11: a model folder or a scores file never costs the user a file, a changed model folder is refused, and scoring is honest
about values it does not know (boolean tokens, identifier columns). Every command-line error is one paragraph with exit status 2."""
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_nb.artifact import PIPELINE, WEIGHTS, load_model, save_model, score
from insight_nb.cli import main
from insight_nb.core import InsightError, SchemaError
from insight_nb.models import TorchTabularClassifier
from insight_nb.publish import MARKER


@pytest.fixture(scope="module")
def fitted(telco_ds):
    ds = telco_ds
    return TorchTabularClassifier(epochs=2).fit(ds.X.iloc[:1500], ds.y.iloc[:1500], schema=ds.schema)


@pytest.fixture(scope="module")
def model_dir(fitted, tmp_path_factory):
    return save_model(fitted, tmp_path_factory.mktemp("m") / "model")


@pytest.fixture
def model(model_dir, tmp_path):
    "A fresh copy of the saved model folder that a test may damage."
    return Path(shutil.copytree(model_dir, tmp_path / "model"))


@pytest.fixture(scope="module")
def rows():
    from insight_nb.data import load_table
    return load_table("demo:telco_churn").iloc[:500].drop(columns=["Churn"]).reset_index(drop=True)


@pytest.fixture
def data(rows, tmp_path):
    p = tmp_path / "new_customers.csv"
    rows.to_csv(p, index=False)
    return p


def snapshot(folder: Path) -> dict:
    "Every file below `folder` with its bytes."
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli_error(capsys, args, *needles):
    "Run `insight-nb ARGS`: exit status 2, one paragraph naming what, where and a fix, no traceback. Returns the message."
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("insight-nb score: error:") and "Fix:" in err, err
    assert len(err.strip().splitlines()) == 1, err
    for n in needles: assert n in err, (n, err)
    return err


# ---------------------------------------------------------------- save_model never deletes a user's files

def test_save_model_refuses_a_folder_it_did_not_write(fitted, tmp_path):
    proj = tmp_path / "project"
    (proj / "src").mkdir(parents=True)
    (proj / "analysis.py").write_text("print('mine')")
    (proj / "src" / "data.csv").write_text("a,b\n1,2\n")
    before = snapshot(proj)
    with pytest.raises(InsightError, match="was not written by insight-nb") as e: save_model(fitted, proj)
    assert "force=True" in str(e.value) and "--force" not in str(e.value) and str(proj) in str(e.value)
    assert snapshot(proj) == before
    assert [p.name for p in tmp_path.iterdir()] == ["project"]            # no staging folder left
    with pytest.raises(InsightError, match="is an existing file"): save_model(fitted, proj / "analysis.py")
    assert snapshot(proj) == before
    # with force=True the model files are added beside the user's, which stay byte-identical
    save_model(fitted, proj, force=True)
    after = snapshot(proj)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {MARKER, PIPELINE, WEIGHTS}
    # such a folder holds files the model was not saved with: loading it says which
    with pytest.raises(InsightError, match="holds files it was not written with: analysis.py"): load_model(proj)
    # a user file with a model file's name is never overwritten, even with force=True
    other = tmp_path / "other"; other.mkdir(); (other / PIPELINE).write_text("my pipeline notes")
    with pytest.raises(InsightError, match="pipeline.json") as e: save_model(fitted, other, force=True)
    assert "--out" not in str(e.value) and (other / PIPELINE).read_text() == "my pipeline notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "project"]


def test_save_model_into_new_empty_and_own_folders(fitted, tmp_path, telco_ds):
    X = telco_ds.X.iloc[1500:1700]
    (tmp_path / "empty").mkdir()
    for d in (tmp_path / "new" / "deeper", tmp_path / "empty"):
        save_model(fitted, d)
        np.testing.assert_array_equal(load_model(d).predict_proba(X), fitted.predict_proba(X))
    save_model(fitted, tmp_path / "empty", metrics={"run": 2})          # a model insight-nb saved is replaced
    assert json.loads((tmp_path / "empty" / PIPELINE).read_text())["metrics"] == {"run": 2}
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == sorted([MARKER, PIPELINE, WEIGHTS])


def test_round_trip_identical_predictions_and_scores(fitted, model_dir, rows, telco_ds):
    m = load_model(model_dir)
    X = telco_ds.X.iloc[:500]
    np.testing.assert_array_equal(m.predict_proba(X), fitted.predict_proba(X))
    pd.testing.assert_frame_equal(score(model_dir, rows), score(fitted, rows))


# ---------------------------------------------------------------- a changed model folder is refused

def _swap_classes(d: Path):
    meta = json.loads((d / PIPELINE).read_text())
    meta["classes"] = meta["classes"][::-1]
    (d / PIPELINE).write_text(json.dumps(meta, indent=2))


@pytest.mark.parametrize("damage, msg", [
    (_swap_classes, "pipeline.json changed since the model folder was written (SHA-256 mismatch)"),
    (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes() + b"\0"), "model.safetensors changed since the model folder was written"),
    (lambda d: (d / "notes.txt").write_text("x"), "holds files it was not written with: notes.txt"),
    (lambda d: (d / WEIGHTS).unlink(), "the model folder lacks model.safetensors"),
    (lambda d: (d / PIPELINE).unlink(), "the model folder lacks pipeline.json"),
    (lambda d: (d / MARKER).unlink(), "no integrity record"),
])
def test_tampered_model_folder_is_refused(model, data, tmp_path, capsys, damage, msg):
    damage(model)
    with pytest.raises(InsightError, match=msg.replace("(", r"\(").replace(")", r"\)")): load_model(model)
    out = tmp_path / "scores.csv"
    cli_error(capsys, ["score", str(model), str(data), "--out", str(out)], msg, str(model))
    assert not out.exists()


def test_model_saved_before_markers_says_save_again(model, data, capsys):
    (model / MARKER).unlink()                                          # exactly what an older save_model wrote
    err = cli_error(capsys, ["score", str(model), str(data), "--out", str(model.parent / "s.csv")], "no integrity record", "save the model again")
    assert "cannot be verified" in err


@pytest.mark.parametrize("which, msg", [("missing", "the path does not exist"), ("file", "this is a file, not a folder"), ("plain", "no pipeline.json")])
def test_model_argument_that_is_not_a_model_folder(which, msg, data, tmp_path, capsys):
    p = {"missing": tmp_path / "nowhere", "file": data, "plain": tmp_path}[which]
    cli_error(capsys, ["score", str(p), str(data), "--out", str(tmp_path / "out" / "s.csv")], "no model folder here", msg, "save_model")


# ---------------------------------------------------------------- --out of score

def test_score_default_out_and_weekly_replace(model, data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["score", str(model), str(data)]) == 0
    out = tmp_path / "reports" / "output" / "new_customers" / "score" / "scores.csv"
    assert f"scored 500 rows (0 unseen category or boolean value(s)): {out}" in capsys.readouterr().out
    first = out.read_bytes()
    assert main(["score", str(model), str(data)]) == 0                 # insight-nb wrote it: replaced without --force
    assert out.read_bytes() == first and len(pd.read_csv(out)) == 500
    assert sorted(p.name for p in out.parent.iterdir()) == [MARKER, "scores.csv"]


def test_score_out_is_checked_before_any_work(model, data, tmp_path, monkeypatch, capsys):
    import insight_nb.artifact as art
    def boom(*a, **k): raise AssertionError("the model must not be loaded before --out is checked")
    monkeypatch.setattr(art, "load_model", boom)
    folder = tmp_path / "results"; folder.mkdir(); (folder / "keep.txt").write_text("mine")
    mine = tmp_path / "scores.csv"; mine.write_text("customerID,my_score\n1,0.5\n")
    before = snapshot(tmp_path)
    cli_error(capsys, ["score", str(model), str(data), "--out", str(folder)], "is a folder", str(folder))
    cli_error(capsys, ["score", str(model), str(data), "--out", "/proc/insight-nb/x.csv"], "/proc/insight-nb", "a folder you can write to")
    cli_error(capsys, ["score", str(model), str(data), "--out", str(mine)], "was not written by insight-nb", "--force")
    cli_error(capsys, ["score", str(model), str(data), "--out", str(model / "scores.csv")], "inside the model folder")
    cli_error(capsys, ["score", str(model), str(data), "--out", str(model / PIPELINE)], "inside the model folder")
    cli_error(capsys, ["score", str(model), str(data), "--out", str(data), "--force"], "the data file being scored")
    assert snapshot(tmp_path) == before


def test_score_force_replaces_a_user_file(model, data, tmp_path, capsys):
    mine = tmp_path / "scores.csv"; mine.write_text("old")
    kept = {p: p.read_bytes() for p in (data, *model.iterdir())}
    assert main(["score", str(model), str(data), "--out", str(mine), "--force"]) == 0
    assert len(pd.read_csv(mine)) == 500 and all(p.read_bytes() == b for p, b in kept.items())


# ---------------------------------------------------------------- boolean tokens the model never saw

def test_boolean_exported_with_other_tokens_is_refused(model, rows, tmp_path, capsys):
    p = tmp_path / "yn.csv"
    rows.assign(Partner=rows["Partner"].map({"Yes": "Y", "No": "N"})).to_csv(p, index=False)
    before = p.read_bytes()
    out = tmp_path / "scores.csv"
    err = cli_error(capsys, ["score", str(model), str(p), "--out", str(out)], "'Partner'", "'Y'", "'N'", "'yes'/'no'", "map them to the training values", str(p))
    assert "500 of its 500" in err and "'Y' -> 'yes'" in err
    assert not out.exists() and p.read_bytes() == before
    with pytest.raises(SchemaError, match="column 'Partner' was boolean in training"): score(model, p)


def test_unknown_boolean_tokens_are_missing_and_counted(model, rows, tmp_path, capsys):
    odd_rows = [3, 7, 9]
    odd = rows.copy(); odd.loc[odd_rows, "Partner"] = "maybe"
    res = score(model, odd)
    assert res.attrs["unseen"]["Partner"] == {"unseen": 3, "examples": ["maybe"]} and res.attrs["n_unseen"] == 3
    assert any("Partner: 3 row(s)" in w and "scored as missing" in w for w in res.attrs["warnings"])
    for blank in ("", np.nan, "n/a"):
        ref = score(model, odd.assign(Partner=odd["Partner"].replace("maybe", blank)))
        assert ref.attrs["n_unseen"] == 0
        pd.testing.assert_frame_equal(res, ref, check_like=False)      # maybe == missing, row for row
    plain = score(model, rows)
    ok = ~plain.index.isin(odd_rows)
    pd.testing.assert_frame_equal(res[ok], plain[ok])
    # through the command: scored, counted in the summary line and a warning
    p = tmp_path / "maybe.csv"; odd.to_csv(p, index=False)
    assert main(["score", str(model), str(p), "--out", str(tmp_path / "s.csv")]) == 0
    cap = capsys.readouterr()
    assert "scored 500 rows (3 unseen category or boolean value(s))" in cap.out and "Partner: 3 row(s), e.g. ['maybe']" in cap.err
    np.testing.assert_allclose(pd.read_csv(tmp_path / "s.csv")["p_Yes"], res["p_Yes"], rtol=1e-6)


def test_boolean_tokens_in_any_case_and_as_bools_score_the_same(model, rows):
    plain = score(model, rows)
    shouty = rows.assign(Partner=rows["Partner"].str.upper().radd(" "), Dependents=rows["Dependents"].str.lower())
    pd.testing.assert_frame_equal(score(model, shouty), plain)
    as_bool = rows.assign(Partner=rows["Partner"].eq("Yes"), SeniorCitizen=rows["SeniorCitizen"].astype(float))
    pd.testing.assert_frame_equal(score(model, as_bool), plain)
    # a 0/1 column that now holds a 2 is not silently read as "true"
    two = rows.copy(); two.loc[0, "SeniorCitizen"] = "2"
    res = score(model, two)
    assert res.attrs["unseen"]["SeniorCitizen"] == {"unseen": 1, "examples": ["2"]}
    gap = rows.copy(); gap["SeniorCitizen"] = gap["SeniorCitizen"].astype(float); gap.loc[0, "SeniorCitizen"] = np.nan
    pd.testing.assert_frame_equal(res.iloc[:1], score(model, gap).iloc[:1])


# ---------------------------------------------------------------- identifier columns

def test_id_column_typo_is_refused(model, data, rows, tmp_path, capsys):
    out = tmp_path / "s.csv"
    cli_error(capsys, ["score", str(model), str(data), "--out", str(out), "--id-columns", "customerId"],
              "'customerId' is not in the data", "Did you mean 'customerID'?", "Available columns:")
    assert not out.exists()
    with pytest.raises(SchemaError, match="Did you mean 'customerID'"): score(model, rows, id_columns=["customerId"])
    res = score(model, rows, id_columns=["customerID", "gender"])
    assert list(res.columns[:2]) == ["customerID", "gender"] and res["customerID"].tolist() == rows["customerID"].tolist()
    assert main(["score", str(model), str(data), "--out", str(out), "--id-columns", "customerID, gender"]) == 0
    assert list(pd.read_csv(out).columns[:3]) == ["customerID", "gender", "predicted"]


# ---------------------------------------------------------------- other errors a user can cause

def test_data_errors_are_one_paragraph(model, rows, tmp_path, capsys):
    out = tmp_path / "s.csv"
    cli_error(capsys, ["score", str(model), str(tmp_path / "nofile.csv"), "--out", str(out)], "does not exist", "nofile.csv")
    p = tmp_path / "no_tenure.csv"; rows.drop(columns=["tenure"]).to_csv(p, index=False)
    cli_error(capsys, ["score", str(model), str(p), "--out", str(out)], "missing: ['tenure']", str(p))
    p2 = tmp_path / "changed.csv"; rows.assign(MonthlyCharges="about fifty").to_csv(p2, index=False)
    cli_error(capsys, ["score", str(model), str(p2), "--out", str(out)], "'MonthlyCharges'", "numeric", str(p2))
    assert not out.exists()


def test_a_header_only_table_is_refused_not_a_traceback(model_dir, rows, tmp_path, capsys):
    p = tmp_path / "empty.csv"
    rows.iloc[:0].to_csv(p, index=False)
    cli_error(capsys, ["score", str(model_dir), str(p), "--out", str(tmp_path / "s.csv")], "has no rows to score")
    assert not (tmp_path / "s.csv").exists()
