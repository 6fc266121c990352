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
