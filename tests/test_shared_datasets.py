"""Acceptance: the four shared data sets load with the right roles."""
import warnings

import pytest

from insight_nb.core import InsightWarning
from insight_nb.dataset import prepare

def test_telco(shared_data):
    ds = prepare(shared_data / "telco_churn" / "telco_churn.csv", "Churn")
    assert len(ds) == 7043
    assert ds.schema.columns["customerID"].role == "identifier" and "customerID" not in ds.features
    tc = ds.schema.columns["TotalCharges"]
    assert (tc.role, tc.n_coerced, tc.missing_tokens) == ("numeric", 11, {" ": 11})
    assert ds.frame["TotalCharges"].isna().sum() == 11
    assert (ds.task, ds.positive_class, ds.classes) == ("binary", "Yes", ["No", "Yes"])
    assert ds.source_sha256 == "16320c9c1ec72448db59aa0a26a0b95401046bef5d02fd3aeb906448e3055e91"

def test_banking77(shared_data):
    ds = prepare(shared_data / "banking77" / "train.csv", "category")
    assert ds.schema.columns["text"].role == "text"
    assert ds.task == "multiclass" and len(ds.classes) == 77
    test = prepare(shared_data / "banking77" / "test.csv", "category")
    assert len(test) == 3080 and set(test.classes) == set(ds.classes)

def test_airline_tweets(shared_data):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", InsightWarning)
        ds = prepare(shared_data / "airline_sentiment" / "tweets.csv", "airline_sentiment")
    cols = ds.schema.columns
    assert cols["text"].role == "text"
    assert cols["tweet_id"].role == "identifier"
    assert cols["tweet_created"].role == "datetime"
    assert any("tweet_id" in m and "155 duplicated values" in m for m in ds.warnings)
    assert any("tweet_id" in str(x.message) for x in w)
    assert ds.task == "multiclass" and ds.classes == ["negative", "neutral", "positive"]
    dup = next(s for s in ds.cleaning.steps if s.action == "dropped exact duplicate rows")
    assert dup.n == 36  # SOURCES.md: 36 of the 155 duplicated-id pairs are identical rows
    assert len(ds) == 14640 - 36
    assert not any(s.action == "kept identical rows" for s in ds.cleaning.steps)

def test_identical_rows_without_identifier_are_kept(shared_data):
    """Issue 13: in a low-dimensional table identical rows are different passengers; dropping them lost 875 of 1309 rows."""
    ds = prepare(shared_data / "gauntlet" / "titanic.csv", "survived")
    assert len(ds) == 1309 and ds.schema.by_role("identifier") == []
    kept = next(s for s in ds.cleaning.steps if s.action == "kept identical rows")
    assert kept.n == 875 and "no identifier column says they are the same record" in kept.detail
    assert not any(s.action == "dropped exact duplicate rows" for s in ds.cleaning.steps)
    assert len(prepare(shared_data / "gauntlet" / "titanic.csv", "survived", drop_duplicates=True)) == 1309 - 875

def test_german_credit(shared_data):
    ds = prepare(shared_data / "german_credit" / "german_credit.csv", "class")
    assert (ds.task, ds.positive_class, ds.classes) == ("binary", "bad", ["good", "bad"])
    roles = {n: c.role for n, c in ds.schema.columns.items()}
    assert [n for n, r in roles.items() if r == "numeric"] == ["duration", "credit_amount", "installment_commitment", "residence_since", "age", "existing_credits", "num_dependents"]
    assert roles["other_parties"] == "categorical" and ds.frame["other_parties"].isna().sum() == 0  # "none" is a category
    assert roles["personal_status"] == "categorical"
    assert ds.y_codes.mean() == pytest.approx(0.3)
