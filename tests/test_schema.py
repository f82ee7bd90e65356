"""results.json and run_config.json as versioned contracts (`cola.schema`): real runs' files hold exactly the keys the
schema writes down, and files an earlier suite wrote read as current ones, through one upgrade per file type."""

import json

import pytest

from cola.experiments import compare
from cola.recipes import load_recipe, parse_args, resolved_config
from cola.results import read_results
from cola.schema import (
    PLAN_KEYS,
    RESULTS_VERSION,
    RUN_CONFIG_VERSION,
    RUN_KEYS,
    SWEEP_KEYS,
    SchemaError,
    upgrade_results,
    upgrade_run_config,
)


def _run_keys(results: dict) -> set[str]:
    """The top-level keys less the per-group and test sections, which depend on the data."""
    return {key for key in results if not key.startswith(("eval_", "test"))}


def test_a_real_runs_files_hold_what_the_schema_says(trained_run):
    results = json.loads((trained_run / "results.json").read_text())
    assert list(results)[:2] == ["schema_version", "kind"]
    assert (results["schema_version"], results["kind"]) == (RESULTS_VERSION, "run")
    assert _run_keys(results) == set(RUN_KEYS)
    assert list(results["plan"]) == list(PLAN_KEYS) and results["plan"]["lora"] is None
    assert {"eval_in_domain", "eval_out_of_domain"} <= results.keys()
    run_config = json.loads((trained_run / "run_config.json").read_text())
    assert list(run_config)[:2] == ["schema_version", "description"] and run_config["schema_version"] == RUN_CONFIG_VERSION
    assert "schema_version" not in results["config"]  # the file's version, not an option
    assert upgrade_results(results) == results  # a current file reads as it is


def test_a_lora_runs_and_a_sweeps_files_too(seed_sweep, tmp_path_factory, tiny_bert_dir, data_dir):
    import train

    out = tmp_path_factory.mktemp("schema") / "lora"
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "32", "--max_eval_samples", "40", "--max_steps", "2", "--per_device_train_batch_size",
            "16", "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false", "--lora_r", "2",
            "--freeze", "1"]
    assert train.main(argv) == 0
    lora = json.loads((out / "results.json").read_text())
    assert _run_keys(lora) == set(RUN_KEYS) and list(lora["plan"]) == list(PLAN_KEYS)
    assert set(lora["plan"]["lora"]) == {"r", "alpha", "dropout", "target_modules", "adapted_layers", "adapter_parameters"}
    assert [set(row) for row in lora["layer_groups"]][1:3] == [{"name", "params", "frozen", "lora_adapter_params"}] * 2
    sweep = json.loads((seed_sweep / "results.json").read_text())
    assert list(sweep) == list(SWEEP_KEYS) and sweep["kind"] == "sweep"
    assert all(read_results(seed_sweep / run["output_dir"] / "results.json")["kind"] == "run" for run in sweep["runs"])


def _version_1(results: dict) -> dict:
    """The file a suite before the schema (and before the plan, data and base_model sections and k classes) wrote."""
    older = {key: value for key, value in results.items()
             if key not in ("schema_version", "kind", "plan", "data", "base_model")}
    for key, section in older.items():
        if key.startswith("eval"):
            older[key] = {k: v for k, v in section.items() if k != "predicted_unacceptable"}
    older["config"] = {**results["config"], "hub_token": "<HUB_TOKEN>", "do_train": False, "do_eval": True,
                       "label_names": ["labels", "domain"], "overwrite_run": False}
    return older


def test_a_version_1_run_reads_as_a_current_one(trained_run):
    results = json.loads((trained_run / "results.json").read_text())
    upgraded = upgrade_results(_version_1(results))
    assert upgraded["schema_version"] == RESULTS_VERSION and upgraded["kind"] == "run"
    assert upgraded["plan"] == {**results["plan"]}  # rebuilt from the options and the layer groups it stored
    assert upgraded["config"] == results["config"]  # the placeholder, the Trainer's flags, the old label columns: gone
    assert upgraded["data"]["source"] == "CoLA" and upgraded["base_model"]["hub_id"] is None
    assert upgraded["eval"]["predicted_unacceptable"] == pytest.approx(results["eval"]["predicted_unacceptable"])


def test_a_version_1_sweep_is_told_from_a_run_once_on_reading(seed_sweep):
    sweep = json.loads((seed_sweep / "results.json").read_text())
    older = {key: value for key, value in sweep.items() if key not in ("schema_version", "kind")}
    assert upgrade_results(older)["kind"] == "sweep"
    with pytest.raises(SchemaError, match="neither one run's, with eval and config, nor a sweep's"):
        upgrade_results({"config": {}, "versions": {}})


def test_a_collapsed_version_1_run_is_still_named_degenerate(trained_run):
    results = _version_1(json.loads((trained_run / "results.json").read_text()))
    results["eval"]["predicted_acceptable"] = 0.0  # every sentence called unacceptable
    from cola.results import single_class

    assert single_class(upgrade_results(results)["eval"]) == "unacceptable"


def test_a_newer_suites_files_are_refused_in_one_line(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    results = json.loads((trained_run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**results, "schema_version": RESULTS_VERSION + 1}))
    assert compare.main([str(run), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert "written by a newer cola-suite" in err and err.count("\n") == 1
    recipe = tmp_path / "run_config.json"
    recipe.write_text(json.dumps({"schema_version": RUN_CONFIG_VERSION + 1, "freeze": 2}))
    import train

    assert train.main(["--recipe", str(recipe)]) == 2
    assert "written by a newer cola-suite" in capsys.readouterr().err


def test_an_older_run_config_replays_and_a_users_recipe_is_version_1(tmp_path):
    older = tmp_path / "older.json"
    older.write_text(json.dumps({"description": "x", "freeze": 2, "hub_token": "<HUB_TOKEN>", "do_train": False,
                                 "resume_from_checkpoint": None, "label_names": ["labels", "domain"]}))
    assert load_recipe(older) == {"freeze": 2, "label_names": ["labels", "group"]}
    current = tmp_path / "current.json"
    current.write_text(json.dumps({"schema_version": 2, "freeze": 2}))
    assert load_recipe(current) == {"freeze": 2}
    assert upgrade_run_config({"freeze": 1, "seed": 3}) == {"freeze": 1, "seed": 3}
    assert resolved_config(parse_args(["--recipe", str(older)]))["freeze"] == 2


def test_the_users_table_of_results_json_names_the_schemas_keys():
    """docs/usage.md shows results.json's keys to users; the schema (`cola.schema`) is the contract, and the table
    names exactly its keys (a key added to one and not the other fails here)."""
    import re

    from conftest import REPO

    text = (REPO / "docs" / "usage.md").read_text()
    table = text[text.index("## Outputs"):text.index("## Where CoLA comes from")]
    shown = {key for line in table.splitlines() if line.startswith("| `")
             for key in re.findall(r"`(\w+)`", line.split(" | ")[0])}
    assert shown == set(RUN_KEYS) | {"test"}  # (eval_<group>, test_<group>: per group, named by the data)


def test_upgrading_leaves_the_document_read_as_it_was(trained_run):
    import copy

    older = _version_1(json.loads((trained_run / "results.json").read_text()))
    older["plan"] = {key: value for key, value in json.loads((trained_run / "results.json").read_text())["plan"].items()
                     if key != "lora"}  # a file from before LoRA: a plan section without the key
    kept = copy.deepcopy(older)
    assert upgrade_results(older)["plan"]["lora"] is None
    assert older == kept


def _edited(results: dict, edit: str) -> dict | bytes:
    """A run's results.json damaged one way (each a file a reader once trusted once its version was known)."""
    results = json.loads(json.dumps(results))
    if edit == "string MCC":
        results["eval"]["matthews_correlation"] = "0.9"
    elif edit == "boolean MCC":
        results["eval"]["matthews_correlation"] = True
    elif edit == "NaN MCC":
        results["eval"]["matthews_correlation"] = float("nan")
    elif edit == "infinite loss":
        results["eval"]["loss"] = float("inf")
    elif edit == "null train":
        results["train"] = None
    elif edit == "null eval":
        results["eval"] = None
    elif edit == "runtime 0":
        results["train"]["runtime_s"] = 0
    elif edit == "events x":
        results["plan"]["progressive"] = {"mode": "auto", "events": "x"}
    elif edit == "not UTF-8":
        return json.dumps(results).encode().replace(b'"CoLA', b'"\xff\xfeCoLA')
    elif edit == "truncated":
        return json.dumps(results).encode()[:300]
    elif edit == "string seed":
        results["config"]["seed"] = "3"
    return results


@pytest.mark.parametrize("edit, field", [
    ("string MCC", 'eval.matthews_correlation is "0.9", not a MCC in [-1, 1]'),
    ("boolean MCC", "eval.matthews_correlation is true, not a MCC in [-1, 1]"),
    ("NaN MCC", "eval.matthews_correlation is nan (not a finite number), not a MCC in [-1, 1]"),
    ("infinite loss", "eval.loss is inf (not a finite number), not a loss (0 or more)"),
    ("null train", "train is null, not an object"),
    ("null eval", "eval is null, not an object of metrics"),
    ("runtime 0", "train.runtime_s is 0, not a training time in seconds (above 0)"),
    ("events x", 'plan.progressive.events is "x", not a list of events'),
    ("not UTF-8", "not a results.json (not UTF-8 JSON: "),
    ("truncated", "not a results.json (not UTF-8 JSON: "),
    ("string seed", "config.seed expects an integer, got \"3\""),
])
def test_compare_reads_every_value_it_uses_as_untrusted(seed_sweep, tmp_path, capsys, edit, field):
    run = tmp_path / "run"
    run.mkdir()
    damaged = _edited(json.loads((seed_sweep / "seed_3" / "results.json").read_text()), edit)
    path = run / "results.json"
    path.write_bytes(damaged if isinstance(damaged, bytes) else json.dumps(damaged).encode())
    assert compare.main([str(run), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {field}") and err.count("\n") == 1
    assert not (tmp_path / "report").exists()


def test_a_sweeps_summary_is_recomputed_not_read(seed_sweep, tmp_path):
    """compare takes a sweep's median from its runs: an aggregate edited (or damaged) in the file is not shown."""
    import shutil

    sweep = tmp_path / "sweep"
    shutil.copytree(seed_sweep, sweep)
    results = json.loads((sweep / "results.json").read_text())
    results["aggregate"]["matthews_correlation"]["median"] = "0.99"
    (sweep / "results.json").write_text(json.dumps(results))
    assert compare.main([str(sweep), "--out", str(tmp_path / "report")]) == 0
    row = json.loads((tmp_path / "report" / "report.json").read_text())["runs"][0]
    mccs = [r["eval"]["matthews_correlation"] for r in results["runs"]]
    assert row["aggregate"]["matthews_correlation"]["median"] == pytest.approx(sum(mccs) / 2)
