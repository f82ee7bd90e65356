"""The two files other tools read, as contracts: results.json and run_config.json, each with a `schema_version`.

Written down here once (the keys below, tested against real runs' files), and read through `upgrade_results` /
`upgrade_run_config`, which turn a file any earlier suite wrote into the current shape. Every "a file an older suite
wrote" rule lives in these two functions; the readers (compare, the search, a sweep that continues, resuming, a
recipe replayed) see current documents only. A file from a newer suite than this one is refused.

results.json (one run; `kind` "run"):

    schema_version, kind    4, "run"
    eval                    {matthews_correlation, accuracy, f1_macro, f1_<class> per class, loss, n,
                             predicted_<class> per class (the share predicted as it), runtime_s, samples_per_second}
                             on the whole evaluation set; CoLA's classes are unacceptable and acceptable
    eval_<group>            the same metrics per group, when the evaluation set has several: for CoLA's GLUE dev set
                             eval_in_domain and eval_out_of_domain; for your data, one per --group_column value
    test, test_<group>      the same for a labelled --test_file / --test_split (absent otherwise)
    data                    {source, class_names, group_names, rows: {split: n}, truncated: {split: texts cut to
                             max_length}}
    train                   {losses: [[step, training loss]] as logged, runtime_s, samples_per_second, steps, epochs,
                             final_loss, mean_loss, best_checkpoint, step_seconds: {steps, median, mean_by_tenth:
                             [10 means]}, resumed_from_step}: a resumed run's resumed_from_step is its checkpoint's
                             step (null: a fresh run), and its runtime_s, samples_per_second, mean_loss, step_seconds
                             and frozen_cache's cached_sentences, grow_passes and build_seconds cover the steps after it
                             (the process that wrote the file); losses and final_loss cover the whole run
    class_weights           [w_unacceptable, w_acceptable], or null
    layer_groups            [{name, params, frozen}], bottom to top; a group whose base weights are held while its
                              adapters train also has lora_adapter_params
    param_groups            [{name, weight_decay, lr, params: [parameter names]}], head first; lr = initial rate
    unfreeze_after_steps    {group: optimizer steps before it trains (null below --freeze)}, or null
    frozen_cache            {used: true, groups, sentences, distinct_sentences, cached_sentences, grow_passes, bytes,
                              where, build_seconds (computing states: filling and growing)}, or {used: false,
                              reason}: whether the frozen groups ran once per sentence (cola.frozen_cache)
    trainable_parameters,   counts; trainable_parameters as the run started (a rising floor freezes some later, a
      total_parameters        resumed run's too)
    precision               {requested: what the options asked for ("auto", ...), used: fp32, bf16 or fp16}
    plan                    {frozen_groups: [names], layer_groups: n, method, frozen_eval_mode, unfreeze_every,
                              lora: {r, alpha, dropout, target_modules, adapted_layers, adapter_parameters} or null,
                              progressive: {mode, max_frozen_groups, every, start, percentile, events: [{step,
                              frozen_groups (all frozen after it), statistic (auto: relative_change per group,
                              threshold; linear: null)}]} or null}: what trained (`cola.plan`, `cola.progressive`)
    distributed             {world_size, nodes, processes_per_node, global_batch}: processes x batch x accumulation
    base_model              {name, hub_id (null for a local folder), license (its folder's card says, or null)}
    config                  the resolved configuration, as in run_config.json (without its schema_version)
    versions                Python and library versions

results.json (a sweep of seeds, at the top of its folder; `kind` "sweep"):

    schema_version, kind    4, "sweep"
    seeds                   the seeds, in order
    runs                    [{seed, output_dir (the seed's folder, relative), eval*, train, degenerate}]
    aggregate               {n_runs, matthews_correlation and accuracy: {median, mean, std, min, max, q1, q3}, the
                              same per group, train_runtime_s, train_samples_per_second, degenerate_runs: [seeds]}
    config, versions        as above

run_config.json: `schema_version`, a `description`, then every option's final value (`cola.recipes`); itself a recipe.

Versions: 1 is every file written before the field existed (no `schema_version`, no `kind`, older runs without
`data`, `plan`, `plan.lora`, `base_model`, or with CoLA's predicted_acceptable share alone); 2 added those; 3
(results.json only) adds `plan.progressive`, `train.losses`, `train.step_seconds` and the cache's `cached_sentences`
and `grow_passes`; 4 (results.json only) adds `train.resumed_from_step` (null in older files: not known).
"""

from __future__ import annotations

import json
import math

from .columns import LABEL_COLUMNS

RESULTS_VERSION = 4
RUN_CONFIG_VERSION = 2
RUN, SWEEP = "run", "sweep"

RUN_KEYS = ("schema_version", "kind", "eval", "data", "train", "class_weights", "layer_groups", "param_groups",
            "unfreeze_after_steps", "frozen_cache", "trainable_parameters", "total_parameters", "precision", "plan",
            "distributed", "base_model", "config", "versions")  # besides eval_<group>, test, test_<group>
SWEEP_KEYS = ("schema_version", "kind", "seeds", "runs", "aggregate", "config", "versions")
PLAN_KEYS = ("frozen_groups", "layer_groups", "method", "frozen_eval_mode", "unfreeze_every", "progressive", "lora")

# What version-1 run_config.json files hold that no current one does, dropped on reading: the Trainer's placeholder
# for a token (no token at all), the values the Trainer wrote for flags train.py does not read, and the options that
# act on the output folder for one call, written as null/false. Any other value of these keys is the user's, and
# the recipe reader refuses it as it refuses the flag.
_V1_RUN_CONFIG_VALUES = {
    "hub_token": ("<HUB_TOKEN>",), "do_train": (False,), "do_predict": (False,), "do_eval": (True, False),
    "overwrite_run": (None, False), "resume_from_checkpoint": (None, False),
}
_V1_LABEL_NAMES = ["labels", "domain"]  # the Trainer's label columns before groups generalised CoLA's domains


class SchemaError(ValueError):
    """A document this suite cannot read: a newer suite's, or not one of these files at all."""


def _version(document: dict, current: int, name: str) -> int:
    if not isinstance(document, dict):
        raise SchemaError(f"not a {name} (a JSON object)")
    version = document.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SchemaError(f"schema_version {version!r} is not a version of {name}")
    if version > current:
        raise SchemaError(f"written by a newer cola-suite ({name} schema_version {version}; this one reads up to "
                          f"{current}): upgrade the suite to read it")
    return version


def upgrade_run_config(document: dict) -> dict:
    """A run_config.json (or a recipe, or the configuration stored in results.json or a checkpoint) in the current
    shape: a copy, without the `schema_version` (the file's, not an option). A recipe a user wrote reads as
    version 1, to which nothing applies but the values above."""
    version = _version(document, RUN_CONFIG_VERSION, "run_config.json")
    upgraded = {key: value for key, value in document.items() if key != "schema_version"}
    if version < 2:
        for key, older in _V1_RUN_CONFIG_VALUES.items():
            if key in upgraded and any(upgraded[key] == value and type(upgraded[key]) is type(value) for value in older):
                del upgraded[key]
        if upgraded.get("label_names") == _V1_LABEL_NAMES:
            upgraded["label_names"] = list(LABEL_COLUMNS)  # the suite sets its label columns itself
    return upgraded


def run_config_document(options: dict) -> dict:
    """What run_config.json holds: the version, then the options."""
    return {"schema_version": RUN_CONFIG_VERSION, **options}


def upgrade_results(document: dict) -> dict:
    """A results.json in the current shape (a copy), one run's or a sweep's: `kind` says which."""
    version = _version(document, RESULTS_VERSION, "results.json")
    upgraded = dict(document)
    if version < 2:
        if "runs" in upgraded and "aggregate" in upgraded:
            upgraded["kind"] = SWEEP
        elif "eval" in upgraded and "config" in upgraded:
            upgraded["kind"] = RUN
        else:
            raise SchemaError("not the results.json of a train.py run (neither one run's, with eval and config, nor a "
                              "sweep's, with runs and aggregate)")
    if upgraded.get("kind") not in (RUN, SWEEP) or not isinstance(upgraded.get("config"), dict):
        raise SchemaError("not the results.json of a train.py run (its kind or config is missing)")
    config = upgraded["config"] = upgrade_run_config(upgraded["config"])
    if version < 2 and upgraded["kind"] == RUN:
        _upgrade_run_v1(upgraded, config)
    if version < 2 and upgraded["kind"] == SWEEP:
        upgraded["runs"] = [_with_both_shares(run) for run in upgraded["runs"]]
    if version < 3 and upgraded["kind"] == RUN:
        # The floor did not rise before version 3 (a copy in the keys' order: the document read is left as it was).
        upgraded["plan"] = {key: upgraded["plan"].get(key) for key in PLAN_KEYS}
        upgraded["train"] = {"losses": None, **upgraded["train"], "step_seconds": None}
    if version < 4 and upgraded["kind"] == RUN:
        upgraded["train"] = {**upgraded["train"], "resumed_from_step": None}
    upgraded = {"schema_version": RESULTS_VERSION, "kind": upgraded.pop("kind"),
                **{key: value for key, value in upgraded.items() if key != "schema_version"}}
    check_results(upgraded)
    return upgraded


# --- what the readers use, checked value by value (a file anyone can edit: trusted on nothing but these checks) ---

def check_results(document: dict) -> None:
    """Every value of a current results.json that a reader uses (compare, a sweep that continues, the search) is of
    its type and range, or a SchemaError names the field: a MCC of "0.9" or true, a NaN, a null section, a runtime
    of 0. The sweep's `aggregate` is not read back (readers recompute it from `runs`)."""
    if document["kind"] == RUN:
        _check_run(document, "")
        return
    _need(isinstance(document.get("seeds", _MISSING), list) and all(is_int(v) for v in document["seeds"]), "seeds",
          document.get("seeds", _MISSING), "a list of seeds")
    runs = document.get("runs", _MISSING)
    _need(isinstance(runs, list) and runs, "runs", runs, "a list of the seeds' runs")
    for i, run in enumerate(runs):
        where = f"runs[{i}]."
        _need(isinstance(run, dict), f"runs[{i}]", run, "an object")
        seed, folder = run.get("seed", _MISSING), run.get("output_dir", _MISSING)
        _need(is_int(seed), f"{where}seed", seed, "a seed (an integer)")
        _need(isinstance(folder, str), f"{where}output_dir", folder, "a folder name")
        _check_metric_sections(run, where)
        _check_train(run.get("train", _MISSING), f"{where}train")


def _check_run(run: dict, where: str) -> None:
    _check_metric_sections(run, where)
    _check_train(run.get("train", _MISSING), f"{where}train")
    data = run.get("data", _MISSING)
    _need(isinstance(data, dict), "data", data, "an object")
    _need(isinstance(data.get("source"), str), "data.source", data.get("source"), "a text")
    for key in ("class_names", "group_names"):
        if key in data:
            _need(is_list_of(data[key], str), f"data.{key}", data[key], "a list of names")
    if "rows" in data:
        _need(isinstance(data["rows"], dict) and all(is_count(v) for v in data["rows"].values()), "data.rows",
              data["rows"], "an object of row counts")
    plan = run.get("plan", _MISSING)
    _need(isinstance(plan, dict), "plan", plan, "an object")
    _need(plan.get("frozen_groups") is None or is_list_of(plan["frozen_groups"], str), "plan.frozen_groups",
          plan.get("frozen_groups"), "a list of group names")
    for key in ("layer_groups", "unfreeze_every"):
        _need(plan.get(key) is None or is_count(plan[key]), f"plan.{key}", plan.get(key), "a count")
    _need(plan.get("lora") is None or isinstance(plan["lora"], dict), "plan.lora", plan.get("lora"), "an object")
    progressive = plan.get("progressive")
    if progressive is not None:
        events = progressive.get("events") if isinstance(progressive, dict) else None
        _need(isinstance(events, list), "plan.progressive.events", events, "a list of events")
        for i, event in enumerate(events):
            ok = isinstance(event, dict) and is_count(event.get("step")) and is_list_of(event.get("frozen_groups"), str)
            _need(ok, f"plan.progressive.events[{i}]", event, "{step, frozen_groups}")
    for key in ("trainable_parameters", "total_parameters"):
        _need(run.get(key) is None or is_count(run[key]), key, run.get(key), "a count")


def _check_metric_sections(run: dict, where: str) -> None:
    """eval (required), eval_<group>, test, test_<group>: numbers where numbers belong, scores in their ranges."""
    _need(isinstance(run.get("eval", _MISSING), dict), f"{where}eval", run.get("eval", _MISSING), "an object of metrics")
    for key in ("matthews_correlation", "accuracy"):
        _need(key in run["eval"], f"{where}eval.{key}", _MISSING, "a score")
    for name, section in run.items():
        if not name.startswith(("eval", "test")):
            continue
        _need(isinstance(section, dict), f"{where}{name}", section, "an object of metrics")
        for key, value in section.items():
            field = f"{where}{name}.{key}"
            if key == "n":
                _need(is_count(value), field, value, "a count")
            elif key in ("runtime_s", "samples_per_second"):
                _need(value is None or (is_number(value) and value >= 0), field, value, "a number of seconds")
            elif key == "matthews_correlation":
                _need(is_number(value) and -1 <= value <= 1, field, value, "a MCC in [-1, 1]")
            elif key == "loss":
                _need(is_number(value) and value >= 0, field, value, "a loss (0 or more)")
            else:  # accuracy, f1_*, predicted_* shares
                _need(is_number(value) and 0 <= value <= 1, field, value, "a score in [0, 1]")


def _check_train(train, where: str) -> None:
    _need(isinstance(train, dict), where, train, "an object")
    _need(is_number(train.get("runtime_s")) and train["runtime_s"] > 0, f"{where}.runtime_s", train.get("runtime_s", _MISSING),
          "a training time in seconds (above 0)")
    _need(is_number(train.get("samples_per_second")) and train["samples_per_second"] >= 0,
          f"{where}.samples_per_second", train.get("samples_per_second", _MISSING), "a number")
    for key in ("steps", "resumed_from_step"):
        _need(train.get(key) is None or is_count(train[key]), f"{where}.{key}", train.get(key), "a count")
    for key in ("epochs", "final_loss", "mean_loss"):
        _need(train.get(key) is None or is_number(train[key]), f"{where}.{key}", train.get(key), "a number")
    losses = train.get("losses")
    _need(losses is None or (isinstance(losses, list) and all(
        isinstance(pair, list) and len(pair) == 2 and is_count(pair[0]) and is_number(pair[1]) for pair in losses)),
        f"{where}.losses", losses, "a list of [step, loss]")
    _need(train.get("best_checkpoint") is None or isinstance(train["best_checkpoint"], str), f"{where}.best_checkpoint",
          train.get("best_checkpoint"), "a folder")
    _need(train.get("step_seconds") is None or isinstance(train["step_seconds"], dict), f"{where}.step_seconds",
          train.get("step_seconds"), "an object")


# Value checks of a file's fields (results.json here; a checkpoint's state in cola.checkpoints and cola.progressive).

def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_count(value) -> bool:
    return is_int(value) and value >= 0


def is_list_of(value, kind) -> bool:
    """A list whose items are each of `kind` (a type) or pass it (a check such as `is_number`)."""
    check = (lambda item: isinstance(item, kind)) if isinstance(kind, type) else kind
    return isinstance(value, list) and all(check(item) for item in value)


_MISSING = object()


def _need(ok: bool, field: str, value, expected: str) -> None:
    if not ok:
        if value is _MISSING:
            shown = "missing"
        elif isinstance(value, float) and not math.isfinite(value):
            shown = f"{value} (not a finite number)"
        else:
            shown = json.dumps(value)[:40]
        raise SchemaError(f"{field} is {shown}, not {expected}")


def _upgrade_run_v1(results: dict, config: dict) -> None:
    own_data = bool(config.get("train_file") or config.get("dataset_name"))
    results.setdefault("data", {"source": "your data" if own_data else "CoLA"})
    plan = results.get("plan") or plan_from_config(config, results.get("layer_groups"))
    results["plan"] = {**plan, "lora": plan.get("lora")}  # a copy: the document read is left as it was
    results.setdefault("base_model", {"name": config.get("model_name_or_path"), "hub_id": None, "license": None})
    results.update(_with_both_shares(results))


def plan_from_config(config: dict, layer_groups: list[dict] | None) -> dict:
    """What trained, from the options a run stored: for results written before the `plan` section, and for a sweep
    whose first seed's results are gone (`layer_groups` None: the group names are unknown)."""
    return {"frozen_groups": [g["name"] for g in layer_groups][: config.get("freeze", 0)] if layer_groups else None,
            "layer_groups": len(layer_groups) if layer_groups else None,
            "method": config.get("freeze_method", "requires_grad"), "frozen_eval_mode": config.get("frozen_eval_mode", True),
            "unfreeze_every": config.get("gradual_unfreeze_steps") or None, "lora": None, "progressive": None}


def _with_both_shares(sections: dict) -> dict:
    """Runs written before k classes (CoLA only) carry predicted_acceptable alone; the share of the other class is
    its complement."""
    updated = dict(sections)
    for key, section in sections.items():
        if key.startswith(("eval", "test")) and isinstance(section, dict) and "predicted_acceptable" in section \
                and "predicted_unacceptable" not in section:
            updated[key] = {**section, "predicted_unacceptable": 1.0 - section["predicted_acceptable"]}
    return updated
