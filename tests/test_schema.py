"""One recipe, three doors: the recipe model is the only field list. `insight-nb schema` prints its JSON Schema (a recipe
file's: the fields flat, or grouped in their sections), and every shipped template's parameters cell, every recipe under
reports/ and the sweep example validate against it (no kernel starts)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from insight_nb.cli import main, params_help
from insight_nb.recipe import HELP, SECTIONS, Recipe, RecipeError, field_names, load_yaml
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
    """Every field flat, then one property per section holding exactly that section's fields (the same definitions), and
    nothing else at either level."""
    jsonschema.Draft202012Validator.check_schema(schema)
    assert list(schema["properties"]) == field_names() + list(SECTIONS)
    assert schema["additionalProperties"] is False
    for name in field_names():
        prop = schema["properties"][name]
        assert prop["description"] == HELP[name] and prop["description"]
        assert name in SECTIONS[prop["section"]]
    for sec, names in SECTIONS.items():
        sp = schema["properties"][sec]
        assert sp["type"] == "object" and sp["additionalProperties"] is False
        assert sp["properties"] == {n: schema["properties"][n] for n in names}
    assert schema == Recipe.json_schema(sections=True)
    flat = Recipe.json_schema()       # the flat form: a report's parameters, a sweep's params
    assert list(flat["properties"]) == field_names() and flat["additionalProperties"] is False
    assert all(flat["properties"][n] == schema["properties"][n] for n in field_names())


def test_the_defaults_and_the_examples_are_valid(schema):
    jsonschema.validate(Recipe().to_dict(), schema)
    jsonschema.validate(load_yaml(Recipe().to_yaml()), schema)     # what to_yaml writes: sectioned
    for name in field_names():
        for ex in schema["properties"][name].get("examples", []):
            sec = schema["properties"][name]["section"]
            jsonschema.validate({name: ex}, schema)
            jsonschema.validate({sec: {name: ex}}, schema)
            Recipe.from_dict({name: ex})      # the model agrees with its schema
            Recipe.from_dict({sec: {name: ex}})


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_every_shipped_template_parameters_cell_validates(schema, name):
    params = template_parameters(template_path(name))
    jsonschema.validate({k: v for k, v in params.items() if k in schema["properties"]}, schema)
    from insight_nb.cells import REPORT_CELLS
    assert set(params) - set(schema["properties"]) <= {k for c in REPORT_CELLS.values() for k in c.params}   # the cells' own parameters
    jsonschema.validate(params, parameters_schema(template_path(name)))
    Recipe.from_dict({k: v for k, v in params.items() if k in field_names()})


def reports_commands() -> dict:
    "File name under reports/ -> the command its README runs it with ('report' for a recipe, 'sweep' for a sweep file)."
    readme = (ROOT / "reports" / "README.md").read_text(encoding="utf-8")
    return {f: cmd for cmd, f in re.findall(r"insight-nb (report|sweep) (?:--config )?reports/([\w.-]+\.ya?ml)", readme)}


def test_every_yaml_under_reports_validates_against_the_schema_of_its_command(schema):
    """What the README advertises: `insight-nb schema` checks a recipe as it is written (sectioned here), and
    `insight-nb schema --sweep` a sweep file; the recipe model agrees with the schema on each."""
    cmds = reports_commands()
    files = sorted(p.name for p in (ROOT / "reports").rglob("*.y*ml"))
    assert files and set(files) == set(cmds), (files, cmds)
    ss = schema_from_cli("--sweep")
    for name, cmd in cmds.items():
        d = load_yaml(ROOT / "reports" / name)
        if cmd == "report":
            jsonschema.validate(d, schema)               # as written: no flattening first
            assert Recipe.from_dict(d, name).source and set(d) <= set(SECTIONS)
        else:
            jsonschema.validate(d, ss)
            with pytest.raises(jsonschema.ValidationError): jsonschema.validate(d, schema)   # a sweep file is not a recipe
    r = Recipe.from_yaml(ROOT / "reports" / "telco_churn.yml")
    assert (r.target, r.cv) == ("Churn", 5)


def test_the_sweep_example_and_its_runs_validate(schema):
    d = load_yaml(ROOT / "reports" / "weekly_sweep.yml")
    jsonschema.validate(d["params"], schema)
    ss = schema_from_cli("--sweep")
    jsonschema.Draft202012Validator.check_schema(ss)
    jsonschema.validate(d, ss)
    assert list(ss["properties"]) == list(SWEEP_KEYS)
    spec = load_sweep(ROOT / "reports" / "weekly_sweep.yml")
    assert spec.datasets[0]["params"]["cv"] == 3
    for ds in spec.datasets:                               # each run's recipe fields, flat, as the report gets them
        run = {k: v for k, v in ds["params"].items() if k in field_names()}
        jsonschema.validate(run, schema)
        jsonschema.validate(run, Recipe.json_schema())
        Recipe.from_dict(run)
    with pytest.raises(jsonschema.ValidationError):        # a sweep's params are flat: no sections there
        jsonschema.validate(dict(d, params={"evaluation": {"cv": 3}}), ss)


def test_a_misspelled_section_is_refused_by_the_schema_and_the_cli_with_a_suggestion(schema, tmp_path, capsys):
    bad = {"data": {"target": "Churn"}, "evaluaton": {"cv": 3}}
    with pytest.raises(jsonschema.ValidationError, match="'evaluaton' was unexpected"):
        jsonschema.validate(bad, schema)
    with pytest.raises(RecipeError, match="unknown section 'evaluaton'. Fix: Did you mean 'evaluation'?"):
        Recipe.from_dict(bad, "run.yml")
    cfg = tmp_path / "run.yml"
    cfg.write_text("data:\n  target: Churn\nevaluaton:\n  cv: 3\n")
    assert main(["report", "demo:telco_churn", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown section 'evaluaton'" in err and "Did you mean 'evaluation'?" in err and "run.yml" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad, message", [
    ({"data": {"cv": 3}}, "'cv' was unexpected"),                       # a field in another section
    ({"evaluation": {"cv": 1}}, "1 is less than the minimum of 2"),
    ({"data": "x.csv"}, "'x.csv' is not of type 'object'"),
    ({"cv": 3, "evaluation": {"cv": 4}}, "False schema does not allow 3"),   # given twice, as flatten refuses it
])
def test_a_bad_section_is_refused_by_the_schema(schema, bad, message):
    with pytest.raises(jsonschema.ValidationError, match=re.escape(message)):
        jsonschema.validate(bad, schema)


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


def test_drop_duplicates_travels_through_every_door(schema, tmp_path):
    """The cleaning report's advice (`-p drop_duplicates=true`) works: a recipe data option, passed to prepare()."""
    import pandas as pd
    from insight_nb.dataset import prepare
    from insight_nb.recipe import DATA_OPTIONS, field_types, parse_value
    from insight_nb.report import resolve_report
    prop = schema["properties"]["drop_duplicates"]
    assert (prop["default"], prop["section"]) == ("auto", "data") and "drop_duplicates" in DATA_OPTIONS
    for ok in ("auto", True, False):
        jsonschema.validate({"data": {"drop_duplicates": ok}}, schema)
    for bad in ("yes", 1, None):
        with pytest.raises(jsonschema.ValidationError): jsonschema.validate({"drop_duplicates": bad}, schema)
        with pytest.raises(RecipeError, match="drop_duplicates must be 'auto' or true or false"): Recipe(drop_duplicates=bad)
    assert [parse_value("drop_duplicates", t, field_types()["drop_duplicates"]) for t in ("true", "false", "auto")] == [True, False, "auto"]
    spec = resolve_report("demo:telco_churn", params=["drop_duplicates=true"])
    assert spec.params["drop_duplicates"] is True and spec.recipe.data_options()["drop_duplicates"] is True
    assert Recipe.from_yaml("data:\n  drop_duplicates: false\n").data_options()["drop_duplicates"] is False
    df = pd.DataFrame({"x": list(range(30)) + [0] * 6, "y": ["a", "b"] * 15 + ["a"] * 6})     # 6 copies of row 0, no identifier
    assert len(prepare(df, "y", **Recipe().data_options())) == 36                          # auto keeps them (and says so)
    assert len(prepare(df, "y", **Recipe(drop_duplicates=True).data_options())) == 30


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
