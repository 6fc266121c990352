"""`route.choose_template` on the shared real data sets: the report template is decided before a kernel starts."""
import pytest

from insight_nb.core import InsightError
from insight_nb.route import choose_template


def test_banking77_goes_to_the_text_report(shared_data):
    r = choose_template(shared_data / "banking77" / "train.csv", "category")
    assert (r.template, r.task, r.text_columns, r.n_classes) == ("text_report", "text", ["text"], 77)
    assert r.params == {"template": "text_report", "target": "category", "roles": {"text": "text"}}


def test_tweets_with_text_and_columns_are_tabular_fusion(shared_data):
    r = choose_template(shared_data / "airline_sentiment" / "tweets.csv", "airline_sentiment")
    assert (r.template, r.task, r.inputs) == ("tabular_report", "multiclass", "fusion") and "fusion" in r.reason


@pytest.mark.parametrize("name,target", [("ames.csv", "Sale_Price"), ("credit_balance.csv", "Balance")])
def test_regression_targets_go_to_the_regression_report(shared_data, name, target):
    r = choose_template(shared_data / "gauntlet" / name, target)
    assert (r.template, r.task, r.n_classes, r.params) == ("regression_report", "regression", 0, {"template": "regression_report", "target": target})
    assert r.reason.startswith(f"regression_report: the numeric target {target!r}")
    # task: classification is refused for these targets (next test), so the reason must not suggest it
    assert "set task: classification" not in r.reason and "too many distinct values to be classes" in r.reason


@pytest.mark.parametrize("name,target", [("ames.csv", "Sale_Price"), ("credit_balance.csv", "Balance")])
def test_task_classification_refuses_a_regression_target(shared_data, name, target):
    with pytest.raises(InsightError, match="too many to be classes, and task is classification"):
        choose_template(shared_data / "gauntlet" / name, target, {"task": "classification"})


def test_a_role_given_by_the_user_decides(shared_data):
    "The user's roles are applied before the decision: the same text read as a category makes the table tabular."
    r = choose_template(shared_data / "banking77" / "train.csv", "category", {"roles": {"text": "categorical"}})
    assert (r.template, r.task, r.inputs) == ("tabular_report", "multiclass", "tabular")
