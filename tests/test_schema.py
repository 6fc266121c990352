"""One recipe, three doors: the recipe model is the only field list. `insight-nb schema` prints its JSON Schema, and every
shipped template's parameters cell, the shipped recipe and the sweep example validate against it (no kernel starts)."""
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from insight_nb.cli import main, params_help
from insight_nb.recipe import HELP, SECTIONS, Recipe, RecipeError, field_names, flatten, load_yaml
from insight_nb.report import TEMPLATES, parameters_schema, template_parameters, template_path
from insight_nb.sweep import SWEEP_KEYS, load_sweep, sweep_schema

ROOT = Path(__file__).resolve().parents[1]


def schema_from_cli(*args) -> dict:
    out = subprocess.run([sys.executable, "-m", "insight_nb.cli", "schema", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def schema():
    return schema_from_cli()


def test_schema_command_prints_a_valid_json_schema_of_the_recipe_fields(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert list(schema["properties"]) == field_names()
    assert schema["additionalProperties"] is False
    for name, prop in schema["properties"].items():
        assert prop["description"] == HELP[name] and prop["description"]
        assert name in SECTIONS[prop["section"]]
    assert schema == Recipe.json_schema()


def test_the_defaults_and_the_examples_are_valid(schema):
    jsonschema.validate(Recipe().to_dict(), schema)
    for name, prop in schema["properties"].items():
        for ex in prop.get("examples", []):
            jsonschema.validate({name: ex}, schema)
            Recipe.from_dict({name: ex})      # the model agrees with its schema


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_every_shipped_template_parameters_cell_validates(schema, name):
    params = template_parameters(template_path(name))
    jsonschema.validate({k: v for k, v in params.items() if k in schema["properties"]}, schema)
    assert set(params) - set(schema["properties"]) <= {"previous_run"}      # the cells' own parameters
    jsonschema.validate(params, parameters_schema(template_path(name)))
    Recipe.from_dict({k: v for k, v in params.items() if k in field_names()})


def test_the_shipped_recipe_validates(schema):
    flat = flatten(load_yaml(ROOT / "reports" / "telco_churn.yml"))
    jsonschema.validate(flat, schema)
    assert Recipe.from_dict(flat).target == "Churn"


def test_the_sweep_example_validates(schema):
    d = load_yaml(ROOT / "reports" / "weekly_sweep.yml")
    jsonschema.validate(d["params"], schema)
    ss = schema_from_cli("--sweep")
    jsonschema.Draft202012Validator.check_schema(ss)
    jsonschema.validate(d, ss)
    assert list(ss["properties"]) == list(SWEEP_KEYS)
    assert load_sweep(ROOT / "reports" / "weekly_sweep.yml").datasets[0]["params"]["cv"] == 3


@pytest.mark.parametrize("bad, field, message", [
    ({"cv": 1}, "cv", "cv must be at least 2, got 1"),
    ({"cv": "three"}, "cv", "cv must be an integer, got 'three'"),
    ({"test": 1.5}, "test", "test must be between 0 and 1 (exclusive), got 1.5"),
    ({"on_bad_lines": "warn"}, "on_bad_lines", "on_bad_lines must be 'error' or 'skip'"),
    ({"models": []}, "models", "models must list at least 1 item"),
    ({"success_rate": 2}, "success_rate", "success_rate must be between 0 and 1"),
    ({"task": "regresion"}, "task", "task must be 'auto' or 'classification' or 'regression'"),
    ({"interval_level": 0.3}, "interval_level", "interval_level must be between 0.5 and 0.99, got 0.3"),
])
def test_a_bad_value_is_refused_by_the_schema_and_the_model_naming_the_field(schema, bad, field, message):
    with pytest.raises(jsonschema.ValidationError) as e:
        jsonschema.validate(bad, schema)
    assert list(e.value.absolute_path)[:1] == [field]
    with pytest.raises(RecipeError) as e:
        Recipe.from_dict(bad, "run.yml")
    assert message in str(e.value) and f"run.yml: recipe field {field!r}" in str(e.value)
    assert f"`-p {field}=" in str(e.value)          # the fix says how to set it from the command line, a recipe and Python


def test_an_unknown_key_is_refused_with_a_suggestion(schema):
    with pytest.raises(jsonschema.ValidationError, match="'n_bot' was unexpected"):
        jsonschema.validate({"n_bot": 3}, schema)
    with pytest.raises(RecipeError, match="Did you mean 'n_boot'"):
        Recipe.from_dict({"n_bot": 3})


def test_the_cli_help_and_the_controls_come_from_the_model():
    text = params_help()
    for name in field_names():
        assert f"{name} (" in text
    c = Recipe.controls()
    assert list(c) == field_names()
    assert c["cv"] | {} == c["cv"] and (c["cv"]["kind"], c["cv"]["ge"], c["cv"]["section"]) == ("int", 2, "evaluation")


def test_schema_rejects_both_flags(capsys):
    assert main(["schema", "--sweep", "--template", "tabular_report"]) == 2
    assert "not both" in capsys.readouterr().err


def test_task_and_interval_level_travel_through_every_door(schema):
    """The regression fields are recipe fields like any other: the CLI (-p), YAML (flat or sectioned), the template's
    parameters cell, and prepare() through data_options()."""
    from insight_nb.recipe import parse_value, field_types
    assert (schema["properties"]["task"]["section"], schema["properties"]["interval_level"]["section"]) == ("data", "evaluation")
    assert schema["properties"]["task"]["enum"] == ["auto", "classification", "regression"] and schema["properties"]["task"]["default"] == "auto"
    assert parse_value("task", "regression", field_types()["task"]) == "regression"
    assert parse_value("interval_level", "0.8", field_types()["interval_level"]) == 0.8
    r = Recipe.from_yaml("data:\n  task: regression\nevaluation:\n  interval_level: 0.95\n")
    assert (r.task, r.interval_level) == ("regression", 0.95) and Recipe.from_yaml(r.to_yaml()) == r
    assert r.data_options()["task"] == "regression"
    for name in TEMPLATES:
        params = template_parameters(template_path(name))
        assert params["task"] == "auto" and params["interval_level"] == 0.9
