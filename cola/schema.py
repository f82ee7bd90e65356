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
    return upgraded


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
