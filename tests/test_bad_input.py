"""Issue 2, bad input: each case gives a specific error or warning (an InsightError, not a deep pandas traceback)."""
import warnings

import numpy as np
import pandas as pd
import pytest

from insight_nb.core import DataError, InsightError, InsightWarning, SchemaError, TargetError
from insight_nb.data import load_table
from insight_nb.dataset import prepare

@pytest.fixture
def write(tmp_path):
    def _w(name, content):
        p = tmp_path / name
        (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
        return p
    return _w

def rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n).round(3), "c": rng.choice(["a", "b", "c"], n), "y": ["yes", "no"] * (n // 2)})

def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist") as e: load_table(tmp_path / "missing.csv")
    assert str(tmp_path / "missing.csv") in str(e.value)

def test_empty_file(write):
    with pytest.raises(DataError, match=r"empty \(0 bytes\)"): load_table(write("e.csv", ""))

def test_whitespace_only_file(write):
    with pytest.raises(DataError, match="only whitespace"): load_table(write("w.csv", "\n\n  \n"))

def test_header_only(write):
    with pytest.raises(DataError, match=r"header \(3 columns\) but no data rows"): load_table(write("h.csv", "a,b,c\n"))

def test_ragged_row_names_the_line(write):
    with pytest.raises(DataError, match="line 4 has 4 fields but the header has 3") as e:
        load_table(write("r.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n"))
    assert "r.csv, line 4" in str(e.value) and "on_bad_lines='skip'" in str(e.value)

def test_ragged_rows_can_be_skipped_and_are_counted(write):
    with pytest.warns(InsightWarning, match="skipped 1 row"):
        df = load_table(write("r.csv", "a,b\n1,2\n3,4,5\n6,7\n"), on_bad_lines="skip")
    assert df.values.tolist() == [["1", "2"], ["6", "7"]]

def test_binary_garbage(write):
    data = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    with pytest.raises(DataError, match="does not look like a text table"): load_table(write("g.csv", data))

def test_encoding_error_names_file_and_offset(write):
    p = write("latin.csv", "name,city\nJosé,Köln\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"byte 0xe9 at byte offset 13 \(line 2\)") as e: load_table(p)
    assert "latin.csv" in str(e.value) and "encoding=" in str(e.value)
    assert load_table(p, encoding="latin-1").loc[0, "name"] == "José"

def test_duplicate_column_names(write):
    with pytest.raises(DataError, match="duplicate column names: 'a' at positions 1, 3"): load_table(write("d.csv", "a,b,a\n1,2,3\n"))
    with pytest.raises(DataError, match="duplicate column names"): load_table(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.warns(InsightWarning, match="renamed"):
        assert list(load_table(write("d2.csv", "a,b,a\n1,2,3\n"), dedupe_columns=True).columns) == ["a", "b", "a__2"]

def test_all_missing_column_is_dropped_and_reported(write):
    df = rows().assign(empty=np.nan)
    ds = prepare(df, "y")
    assert ds.schema.columns["empty"].role == "ignored" and "empty" not in ds.frame
    assert any(s.column == "empty" and s.action == "dropped column" for s in ds.cleaning.steps)

def test_target_missing_lists_close_matches():
    with pytest.raises(TargetError, match="Did you mean 'y'") as e: prepare(rows(), "Y ")
    assert "Available columns: 'x', 'c', 'y'" in str(e.value)

def test_target_constant():
    with pytest.raises(TargetError, match="constant"): prepare(rows().assign(y="yes"), "y")

def test_target_constant_after_cleaning():
    df = rows().assign(y=["yes"] * 39 + ["NA"])  # the only 'other' value is a missing token
    with pytest.raises(TargetError, match="constant"): prepare(df, "y")

def test_single_row_class():
    df = rows().assign(y=["a"] * 20 + ["b"] * 19 + ["c"])
    with pytest.raises(TargetError, match=r"'c' \(1 row\)"): prepare(df, "y")
    ds = prepare(df, "y", drop_rare_classes=True)
    assert ds.classes == ["a", "b"] and len(ds) == 39

def test_one_row_file(write):
    with pytest.warns(InsightWarning, match="only 1 data row"): df = load_table(write("one.csv", "x,y\n1,yes\n"))
    assert len(df) == 1
    with pytest.raises(TargetError, match="constant"): prepare(write("one2.csv", "x,y\n1,yes\n"), "y")

def test_errors_are_value_errors_with_a_fix(write):
    with pytest.raises(ValueError) as e: load_table(write("h.csv", "a\n"))
    assert isinstance(e.value, InsightError) and e.value.fix

def test_unknown_role_and_policy():
    with pytest.raises(SchemaError, match="unknown role"): prepare(rows(), "y", roles={"x": "float"})
    with pytest.raises(SchemaError, match="unknown missing-value policy"): prepare(rows(), "y", missing={"x": "median"})
    with pytest.raises(SchemaError, match="Did you mean .x."): prepare(rows(), "y", missing={"xx": "keep"})

def test_semicolon_file_with_decimal_comma_is_read(write):
    p = write("semi.csv", "id;amount;y\n" + "".join(f"{i};{i},5;{'yes' if i % 2 else 'no'}\n" for i in range(30)))
    df = load_table(p)
    assert list(df.columns) == ["id", "amount", "y"] and df.loc[3, "amount"] == "3,5"

def test_formats_round_trip(tmp_path):
    df = rows()
    df.to_parquet(tmp_path / "t.parquet"); df.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    df.to_csv(tmp_path / "t.tsv", sep="\t", index=False); df.to_excel(tmp_path / "t.xlsx", index=False)
    for name in ["t.parquet", "t.jsonl", "t.tsv", "t.xlsx"]:
        ds = prepare(tmp_path / name, "y")
        assert len(ds) == 40 and ds.schema.columns["x"].role == "numeric" and ds.schema.columns["c"].role == "categorical", name

def test_missing_tokens_reported_in_numeric_column():
    df = rows().assign(x=["1.5", "NA", "unknown", " ", "2"] * 8)
    ds = prepare(df, "y")
    c = ds.schema.columns["x"]
    assert c.role == "numeric" and c.n_coerced == 24 and c.missing_tokens == {"NA": 8, "unknown": 8, " ": 8}


# --- issue 11: one clear error for every bad input, settable from every door -----------------------------------------
import gzip
import re

from insight_nb.data import read_columns
from insight_nb.recipe import Recipe, RecipeError, load_yaml

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8

def one_paragraph(e):
    "The message reads as one paragraph: what/where, then exactly one period before 'Fix:', ending in one period."
    m = str(e)
    assert "\n" not in m and "Traceback" not in m, m
    assert re.search(r"[^.]\. Fix: \S", m) or re.search(r"\? Fix: \S", m), m
    assert not re.search(r"\.\s*\.\s*Fix:", m) and m.endswith(".") and not m.endswith(".."), m
    return m

def cli(capsys, *argv):
    from insight_nb.cli import main
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.err

@pytest.mark.parametrize("what,where,fix", [("bad.", "x.csv", "do this."), ("bad", None, "do this"), ("bad. ", "x", "a. b. "),
                                            ("bad..", "x", "suffixes __2, __3, ..."), ("Did you mean 'a'?", None, "use 'a'")])
def test_message_has_one_period_before_fix(what, where, fix):
    m = str(InsightError(what, where, fix))
    assert re.search(r"[^.]\. Fix: \S|\? Fix: \S", m), m
    assert ".. Fix" not in m and ". . Fix" not in m, m
    assert m.endswith(".") and (not m.endswith("..") or m.endswith("...")), m

def test_png_named_csv_is_named_from_read_columns_and_load_table(write):
    p = write("chart.csv", PNG)
    for f in (read_columns, load_table, lambda p: prepare(p, "Churn")):
        with pytest.raises(DataError, match="does not look like a text table: it looks like a PNG image") as e: f(p)
        assert str(p) in one_paragraph(e.value) and "right file" in e.value.fix

def test_gzip_named_csv_is_named_from_read_columns_and_load_table(write):
    p = write("data.csv", gzip.compress(b"a,b,y\n1,2,yes\n" * 50))
    for f in (read_columns, load_table):
        with pytest.raises(DataError, match="it looks like a gzip archive") as e: f(p)
        assert "decompress it" in one_paragraph(e.value)

def test_zip_that_is_not_a_workbook(write, tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "z.csv", "w") as z: z.writestr("inner.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match="it looks like a ZIP archive"): load_table(tmp_path / "z.csv")

def test_read_columns_reads_the_header_only(write, tmp_path):
    p = write("big.csv", "id;amount;y\n" + "1;2;yes\n" * 200_000)
    assert read_columns(p) == ["id", "amount", "y"]
    rows().to_parquet(tmp_path / "t.parquet")
    assert read_columns(tmp_path / "t.parquet") == ["x", "c", "y"]
    assert read_columns("demo:telco_churn")[-1] == "Churn"
    rows().to_excel(tmp_path / "t.xlsx", index=False)
    assert read_columns(tmp_path / "t.xlsx") is None
    assert read_columns(p, **Recipe(source=str(p), sep=";").data_options()) == ["id", "amount", "y"]

def test_read_columns_errors_match_load_table(write):
    lat = write("latin.csv", "name,city\nJosé,Köln\n".encode("latin-1"))
    cases = [(lat, {}, r"byte 0xe9 at byte offset 13 \(line 2\)"), (lat, dict(sep="ab"), "'ab' is 2 characters long"),
             (write("e.csv", ""), {}, r"empty \(0 bytes\)"), (write("w.csv", "\n \n"), {}, "only whitespace"),
             (lat, dict(encoding="latin-2x"), "unknown encoding 'latin-2x'")]
    for p, kw, pat in cases:
        msgs = []
        for f in (read_columns, load_table):
            with pytest.raises(DataError, match=pat) as e: f(p, **kw)
            msgs.append(one_paragraph(e.value))
        assert msgs[0] == msgs[1]

def test_encoding_fix_names_every_door(write):
    p = write("latin.csv", "name,y\nJosé,yes\nAna,no\n".encode("latin-1"))
    with pytest.raises(DataError) as e: load_table(p)
    m = one_paragraph(e.value)
    for door in ("re-save the file as UTF-8", "`--encoding latin-1`", "`-p encoding=latin-1` (CLI)", "`encoding: latin-1` (recipe)", "`encoding='latin-1'` (Python)"):
        assert door in m, door

def test_other_data_fixes_name_every_door(write):
    with pytest.raises(DataError) as e: load_table(write("r.csv", "a,b\n1,2\n3,4,5\n"))
    assert "`-p on_bad_lines=skip` (CLI), `on_bad_lines: skip` (recipe), `on_bad_lines='skip'` (Python)" in one_paragraph(e.value)
    with pytest.raises(DataError) as e: load_table(write("d.csv", "a,b,a\n1,2,3\n"))
    assert "`-p dedupe_columns=true` (CLI), `dedupe_columns: true` (recipe), `dedupe_columns=True` (Python)" in one_paragraph(e.value)

def test_multi_character_sep_is_refused_everywhere(write):
    p = write("d.csv", "a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match="'ab' is 2 characters long"): load_table(p, sep="ab")
    with pytest.raises(DataError, match="'ab' is 2 characters long"): prepare(p, "b", sep="ab")
    with pytest.raises(RecipeError, match="recipe field 'sep': the separator 'ab'") as e: Recipe(sep="ab")
    one_paragraph(e.value)
    assert load_table(write("t.tsv.txt", "a\tb\n1\t2\n"), sep="\\t").shape == (1, 2)

def test_sep_that_is_not_in_the_header(write):
    with pytest.raises(DataError, match=r"the separator ';' does not occur in the header line, which looks ','-separated") as e:
        load_table(write("d.csv", "a,b\n1,2\n3,4\n"), sep=";")
    assert "`--sep ','`" in one_paragraph(e.value)

def test_unknown_encoding_did_you_mean():
    with pytest.raises(RecipeError, match="Did you mean 'latin-1'"): Recipe(encoding="latn-1")
    with pytest.raises(DataError, match="Did you mean 'cp1252'"): load_table("x.csv", encoding="cp1525")

def test_cli_profile_bad_sep(capsys, write, tmp_path):
    rc, err = cli(capsys, "profile", write("data.csv", "a,b,y\n1,2,yes\n3,4,no\n"), "--sep", "ab", "--out", tmp_path / "o")
    assert rc == 2 and "the separator 'ab' is 2 characters long" in err and "Fix:" in err and not (tmp_path / "o").exists()

def test_cli_profile_png_named_csv(capsys, write, tmp_path):
    rc, err = cli(capsys, "profile", write("data.csv", PNG), "--target", "Churn", "--out", tmp_path / "o")
    assert rc == 2 and "it looks like a PNG image" in err and "not in the data" not in err

def test_cli_profile_latin1_with_encoding(capsys, write, tmp_path):
    body = "name,x,y\n" + "".join(f"Jos\u00e9{i},{i},{'yes' if i % 2 else 'no'}\n" for i in range(40))
    p = write("latin1.csv", body.encode("latin-1"))
    rc, err = cli(capsys, "profile", p, "--target", "y", "--out", tmp_path / "o1")
    assert rc == 2 and "--encoding latin-1" in err
    rc, err = cli(capsys, "profile", p, "--target", "y", "--encoding", "latin-1", "--out", tmp_path / "o2")
    assert rc == 0 and (tmp_path / "o2" / "profile.html").exists()

def test_cli_report_duplicate_yaml_key(capsys, write, tmp_path):
    cfg = write("run.yml", "data:\n  target: Churn\nevaluation:\n  cv: 3\n  cv: 4\n")
    rc, err = cli(capsys, "report", "demo:telco_churn", "--config", cfg, "--out", tmp_path / "o")
    assert rc == 2 and "the key 'cv' is given twice, at lines 4 and 5" in err and "run.yml" in err

def test_yaml_duplicate_keys_nested_and_top_level(tmp_path):
    with pytest.raises(RecipeError, match="the key 'target' is given twice, at lines 1 and 3") as e: Recipe.from_yaml("target: a\ncv: 3\ntarget: b\n")
    one_paragraph(e.value)
    with pytest.raises(RecipeError, match="the key 'id' is given twice, at lines 3 and 4"):
        load_yaml("data:\n  roles:\n    id: identifier\n    id: ignored\n")
    assert load_yaml("a: {x: 1}\nb: {x: 2}\n") == {"a": {"x": 1}, "b": {"x": 2}}  # same key in different mappings is fine

def test_continuous_target_same_message_from_csv_and_parquet(tmp_path):
    "As classes (task: classification) a continuous number is refused the same way from a CSV and from Parquet; by default it is regression."
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=200).round(2), "TotalCharges": rng.uniform(20, 8000, 200).round(2)})
    df.to_csv(tmp_path / "t.csv", index=False); df.to_parquet(tmp_path / "t.parquet")
    msgs = []
    for name in ("t.csv", "t.parquet"):
        with pytest.raises(TargetError, match="the target is a continuous number") as e: prepare(tmp_path / name, "TotalCharges", task="classification")
        m = one_paragraph(e.value)
        assert "identifier or free text" not in m and "`-p task=regression`" in m and "bin the amount" in m and "--target COLUMN" in m
        msgs.append(m.split(": ", 1)[1])
        assert prepare(tmp_path / name, "TotalCharges").task == "regression"
    assert msgs[0] == msgs[1]

def test_telco_total_charges_target_is_continuous():
    with pytest.raises(TargetError, match="continuous number"): prepare("demo:telco_churn", "TotalCharges", task="classification")
    assert prepare("demo:telco_churn", "TotalCharges").task == "regression"

def test_case_variants_of_labels_warn_and_can_be_merged():
    df = rows(60).assign(y=["Yes"] * 20 + ["YES"] * 5 + ["yes "] * 5 + ["No"] * 30)
    with pytest.warns(InsightWarning, match=r"'Yes' \(20 rows\), 'YES' \(5 rows\), 'yes ' \(5 rows\)") as w:
        ds = prepare(df, "y")
    assert ds.task == "multiclass" and ds.schema.target.counts == {"No": 30, "Yes": 20, "YES": 5, "yes": 5}
    msg = next(str(x.message) for x in w if "differ only by case" in str(x.message))
    assert "`merge_case_labels: true` (recipe)" in msg and "`-p merge_case_labels=true` (CLI)" in msg
    with pytest.warns(InsightWarning, match="merged into the most frequent spelling"):
        ds = prepare(df, "y", merge_case_labels=True)
    assert (ds.task, ds.classes, ds.positive_class, len(ds)) == ("binary", ["No", "Yes"], "Yes", 60)
    assert set(ds.y) == {"Yes", "No"}
    ds2 = prepare(df, "y", **Recipe(merge_case_labels=True).data_options())
    assert ds2.classes == ["No", "Yes"]

def test_rare_class_error_names_the_fold_count_and_every_door():
    df = rows(60).assign(y=["a"] * 30 + ["b"] * 28 + ["c"] * 2)
    with pytest.raises(TargetError, match=r"fewer than 3 rows \(the minimum for stratified 3-fold cross-validation\): 'c' \(2 rows\)") as e:
        prepare(df, "y", cv=3)
    m = one_paragraph(e.value)
    assert "5-fold" not in m and "`-p drop_rare_classes=true` (CLI)" in m and "`-p cv=2` (CLI)" in m and "merge these classes" in m
    with pytest.raises(TargetError, match="5-fold"): prepare(df, "y")
    assert prepare(df, "y", cv=2).classes == ["a", "b", "c"]
    assert prepare(df, "y", **Recipe(cv=3, drop_rare_classes=True).data_options()).classes == ["a", "b"]
    with pytest.raises(TargetError, match=r"\(min_class_count=10\)"): prepare(df, "y", min_class_count=10)

def test_recipe_data_options_reach_prepare(write):
    p = write("d.csv", ("a;a;y\n" + "".join(f"{i}é;{i};{'yes' if i % 2 else 'no'}\n" for i in range(40)) + "1;2;3;4\n").encode("latin-1"))
    r = Recipe(source=str(p), target="y", sep=";", encoding="latin-1", on_bad_lines="skip", dedupe_columns=True)
    ds = prepare(r.source, r.target, positive_class=r.positive_class, roles=r.roles or None, **r.data_options())
    assert len(ds) == 40 and "a__2" in ds.frame.columns and ds.frame["a"].iloc[0] == "0é"

def test_utf16_file_is_named_and_readable_with_the_encoding(write):
    for enc, name in (("utf-16", "utf-16"), ("utf-16-le", "utf-16-le")):
        p = write(f"{enc}.csv", "a,y\n1,yes\n2,no\n".encode(enc))
        with pytest.raises(DataError, match="UTF-16") as e: load_table(p)
        assert f"`encoding: {name}` (recipe)" in one_paragraph(e.value)
        assert load_table(p, encoding=enc).shape == (2, 2)

def test_prepare_recipe_uses_the_data_options(write):
    from insight_nb.widgets import prepare_recipe
    p = write("d.csv", ("x;y\n" + "".join(f"{i}é;{'yes' if i % 2 else 'no'}\n" for i in range(40))).encode("latin-1"))
    ds = prepare_recipe(Recipe(source=str(p), target="y", sep=";", encoding="latin-1"))
    assert len(ds) == 40 and ds.frame["x"].iloc[0] == "0é"
