"""The model card: README.md in the output folder, so the model explains itself on the Hub (`--push_to_hub`) and
on disk: where its data came from, its classes, its scores overall and per group, how it was frozen and at what
learning rates, its seed, and the command that reproduces it.

Built from results.json's document (`cola.results`), so the card and the results cannot disagree. The metadata
block is huggingface_hub's `ModelCardData`; the tag `cola-suite` marks a card this suite wrote, which is how
`--overwrite_run` knows the README.md is the run's own and how a user's README.md is never written over.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .files import write_atomic
from .redact import command_line
from .results import single_class_warning
from .run_files import CARD_FILE

TAG = "cola-suite"
GLUE = "nyu-mll/glue"  # CoLA's home on the Hub (the GLUE benchmark's cola configuration)


def is_suite_card(path: Path) -> bool:
    """Whether `path` is a model card this suite wrote (and so a run's file, not the user's)."""
    try:
        return TAG in (ModelCard.load(path).data.tags or [])
    except Exception:  # noqa: BLE001 - not a card at all: not ours
        return False


def model_card(results: dict, *, argv: tuple[str, ...], output_dir: str) -> str:
    config, data = results["config"], results["data"]
    base = config["model_name_or_path"]
    cola = not (config.get("train_file") or config.get("dataset_name"))
    hub_dataset = config.get("dataset_name") if config.get("dataset_name") and not Path(config["dataset_name"]).is_dir() \
        else None  # a local folder that `datasets` reads is no Hub id
    # What the usage example loads: the Hub repository the run pushes to, else the folder, by its name (the card is
    # read where the folder is, or on the Hub: this machine's absolute paths mean nothing there).
    name = Path(output_dir).name
    where = config["hub_model_id"] if config.get("push_to_hub") and config.get("hub_model_id") else name
    metadata = ModelCardData(
        library_name="transformers", pipeline_tag="text-classification", tags=["text-classification", TAG],
        base_model=results["base_model"]["hub_id"], license=config.get("license") or results["base_model"]["license"],
        datasets=[GLUE] if cola else ([hub_dataset] if hub_dataset else None),
        metrics=["matthews_correlation", "accuracy", "f1"], model_name=Path(output_dir).name,
        eval_results=_eval_results(results, config, cola, hub_dataset),
    )
    lines = [
        f"# {Path(output_dir).name}", "",
        f"`{base}` fine-tuned to sort texts{' and text pairs' if config.get('text_pair_column') else ''} into "
        f"{len(data['class_names'])} classes, on {data['source']}, with the cola-suite training suite (`train.py`).", "",
        "## Data", "",
        *_data_lines(config, data, cola), "",
        "## Evaluation", "",
        *_subset_line(config), *_score_table(results), "",
        *([f"**Warning:** {warning}.", ""] if (warning := single_class_warning(results)) else []),
        *_per_class_lines(results, data["class_names"]),
        "## Training", "",
        *_training_lines(results, config), "",
        "## Reproduce", "",
        "The exact configuration is `run_config.json` in this folder (a recipe), run from a checkout of the suite "
        "with this folder beside it:", "",
        "```bash", f"python train.py --recipe {shlex.quote(name + '/run_config.json')} "
        f"--output_dir {shlex.quote(name + '-again')}", "```", "",
        "This run was started with:", "", "```bash", command_line("python train.py", argv), "```", "",
        "## Use", "",
        "```python", "from transformers import pipeline", "",
        f'classify = pipeline("text-classification", model="{where}")',
        _use_example(cola, pair=bool(config.get("text_pair_column"))),
        "```", "",
    ]
    return ModelCard(f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines)).content


def _use_example(cola: bool, *, pair: bool) -> str:
    if pair:  # the pipeline takes a pair as a dict, and encodes it as training did
        return 'print(classify({"text": "the first text", "text_pair": "its pair"}))'
    return 'print(classify("The book was written by John."))' if cola else 'print(classify("your text here"))'


def write_model_card(card: str, output_dir: str | Path) -> Path:
    return write_atomic(Path(output_dir) / CARD_FILE, card)


def _eval_results(results: dict, config: dict, cola: bool, hub_dataset: str | None) -> list[EvalResult] | None:
    """The model-index entries the Hub shows: only for a whole split it can name (CoLA's validation set, a Hub
    dataset's), never for local files or a subset (--max_eval_samples), which would claim a score on the split."""
    if config.get("max_eval_samples"):
        return None
    if cola and config["eval_split"] == "glue_dev":
        where = dict(dataset_type=GLUE, dataset_name="GLUE CoLA", dataset_config="cola", dataset_split="validation")
    elif hub_dataset and config["eval_split"] == "glue_dev":
        where = dict(dataset_type=config["dataset_name"], dataset_name=config["dataset_name"],
                     dataset_config=config.get("dataset_config_name"), dataset_split=config["validation_split"])
    else:
        return None
    return [EvalResult(task_type="text-classification", metric_type=key, metric_value=results["eval"][key], **where)
            for key in ("matthews_correlation", "accuracy")]


def _data_lines(config: dict, data: dict, cola: bool) -> list[str]:
    if cola:
        source = ("CoLA (the Corpus of Linguistic Acceptability), training file in_domain_train.tsv; evaluated on "
                  + ("GLUE's validation set (in_domain_dev + out_of_domain_dev)" if config["eval_split"] == "glue_dev"
                     else f"a stratified hold-out of {config['holdout_fraction']:g} of the training file"))
    elif config.get("dataset_name"):
        source = (f"Hub dataset `{config['dataset_name']}`"
                  + (f", configuration `{config['dataset_config_name']}`" if config.get("dataset_config_name") else "")
                  + f", split `{config['train_split']}` for training")
    else:
        source = "local files: " + ", ".join(f"`{Path(config[k]).name}` ({k.removesuffix('_file')})"
                                             for k in ("train_file", "validation_file", "test_file") if config.get(k))
    columns = [] if cola else [
        f"- Columns: text `{config['text_column']}`"
        + (f", pair `{config['text_pair_column']}`" if config.get("text_pair_column") else "")
        + f", label `{config['label_column']}`"
        + (f", group `{config['group_column']}`" if config.get("group_column") else "")
    ]
    rows = ", ".join(f"{name} {n:,}" for name, n in data["rows"].items())
    truncated = {k: v for k, v in data.get("truncated", {}).items() if v}
    return [
        f"- Source: {source}", *columns,
        f"- Classes (id: name): {', '.join(f'{i}: {name}' for i, name in enumerate(data['class_names']))}",
        f"- Rows: {rows}" + (f" (max_train_samples {config['max_train_samples']})" if config.get("max_train_samples") else "")
        + (f" (max_eval_samples {config['max_eval_samples']})" if config.get("max_eval_samples") else ""),
        f"- Texts cut to {config['max_length']} tokens: "
        + (", ".join(f"{k} {v:,}" for k, v in truncated.items()) if truncated else "none"),
    ]


def _subset_line(config: dict) -> list[str]:
    if not config.get("max_eval_samples"):
        return []
    return [f"On a random subset of {config['max_eval_samples']:,} evaluation rows (`--max_eval_samples`), not the whole "
            "split: these scores are not the split's, and the card's metadata claims none.", ""]


def _score_table(results: dict) -> list[str]:
    rows = ["| set | n | MCC | accuracy | macro-F1 | loss |", "|---|---:|---:|---:|---:|---:|"]
    for key, section in results.items():
        if key in ("eval", "test") or key.startswith(("eval_", "test_")):
            name = {"eval": "evaluation (all)", "test": "test (all)"}.get(key, key.replace("_", " ", 1))
            rows.append(f"| {name} | {section['n']:,} | {section['matthews_correlation']:.4f} | {section['accuracy']:.4f} "
                        f"| {section['f1_macro']:.4f} | {section['loss']:.4f} |")
    return rows


def _per_class_lines(results: dict, class_names: list[str]) -> list[str]:
    section = results["eval"]
    return ["Per-class F1 on the whole evaluation set: "
            + ", ".join(f"{name} {section[f'f1_{name}']:.4f}" for name in class_names) + ".", ""]


def rising_floor_line(progressive: dict, groups: int) -> str:
    """The model card's line for a floor that rose during training (`cola.progressive`): each rise, its step and
    the groups it froze."""
    events, frozen = progressive["events"], []
    rises = []
    for event in events:
        newly = [name for name in event["frozen_groups"] if name not in frozen]
        rises.append(f"after step {event['step']}: {', '.join(newly)}")
        frozen = event["frozen_groups"]
    how = ("bottom-up, as each group's gradient norm settled (AutoFreeze)" if progressive["mode"] == "auto"
           else "on a fixed schedule")
    return (f"- Progressive freezing ({progressive['mode']}): the frozen floor rose {how}, to {len(frozen)} of {groups} "
            f"layer groups in {len(events)} rise(s)" + (f" ({'; '.join(rises)})" if rises else "")
            + "; a frozen group stopped training and its output was cached")


def _training_lines(results: dict, config: dict) -> list[str]:
    plan = results["plan"]  # what trained (cola.plan), not the options that asked for it
    frozen = plan["frozen_groups"]
    freezing = (f"bottom {len(frozen)} of {plan['layer_groups']} layer groups frozen ({', '.join(frozen)}; "
                f"method {plan['method']}, frozen groups in eval mode: {plan['frozen_eval_mode']})"
                if frozen else f"none (all {plan['layer_groups']} layer groups train)")
    cache = results.get("frozen_cache") or {}
    lr = [f"peak {config['learning_rate']:g}", f"{config['lr_scheduler_type']} schedule", f"warm-up {config['warmup_steps']:g}"]
    if config["layer_lr_decay"] != 1:
        lr.append(f"layer-wise decay {config['layer_lr_decay']:g}")
    if config["head_lr_multiplier"] != 1:
        lr.append(f"head x{config['head_lr_multiplier']:g}")
    if plan["unfreeze_every"]:
        lr.append(f"gradual unfreezing every {plan['unfreeze_every']} steps")
    weights = results.get("class_weights")
    train = results["train"]
    dist = results.get("distributed") or {"world_size": 1}
    lora = plan.get("lora")
    share = results["trainable_parameters"] / max(results["total_parameters"], 1)
    return [
        f"- Freezing: {freezing}" + ("; frozen layers run once and cached" if cache.get("used") else ""),
        *([f"- LoRA: rank {lora['r']}, alpha {lora['alpha']:g}, dropout {lora['dropout']:g}, on "
           f"{' '.join(lora['target_modules'])} ({lora['adapted_layers']} linear layers above the frozen groups, "
           f"{lora['adapter_parameters']:,} adapter parameters); the base weights stay as they were, the head and "
           "pooler train. This model has the adapters merged in; `adapter/` holds the adapter for PEFT"] if lora else []),
        *([rising_floor_line(plan["progressive"], plan["layer_groups"])] if plan.get("progressive") else []),
        f"- Learning rate: {', '.join(lr)}; weight decay {config['weight_decay']:g} (biases and norms exempt)",
        f"- Trainable parameters: {results['trainable_parameters']:,} of {results['total_parameters']:,} ({share:.2%})",
        f"- Class weights: {'none' if weights is None else ', '.join(f'{w:.4f}' for w in weights)}",
        f"- Batch size {config['per_device_train_batch_size']} x {config['gradient_accumulation_steps']} accumulation"
        + (f" x {dist['world_size']} processes on {dist['nodes']} node(s) = {dist['global_batch']} per step"
           if dist["world_size"] > 1 else "") + ", "
        f"{train['epochs']:g} epochs ({train['steps']} steps), precision {results['precision']['used']}",
        f"- Seed: {config['seed']}; best checkpoint chosen on {config['metric_for_best_model']}"
        if config.get("load_best_model_at_end") else f"- Seed: {config['seed']}",
    ]
