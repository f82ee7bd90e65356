"""The training options: the Hugging Face Trainer's arguments with the suite's own beside them and the suite's
defaults (`ColaTrainingArguments`), each defined once with its help, checks and traits (`cola.option_traits`).

They live in one dataclass with the Trainer's, not a separate one, so the Trainer subclass reads them from
`self.args` and they travel inside every checkpoint's `training_args.bin`. The model and data options, and the
run's whole configuration, are `cola.config`.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass, field, fields

from huggingface_hub.utils import HFValidationError, validate_repo_id
from transformers import TrainingArguments
from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from .columns import LABEL_COLUMNS
from .files import real_path
from .option_traits import check_traits, traits_of
from .precision import CHOICES as PRECISIONS
from .precision import fit_to_hardware

MAX_SEED = 2**32 - 1
MAX_EPOCHS, MAX_STEPS = 100_000, 10**9
MAX_BATCH = 65_536  # examples per device and batch

# The traits of the Trainer's own options that the suite inherits as they are (its own options carry theirs in
# their field's metadata).
_MAY_DIFFER = {"resume_may_differ": True}
TRAINER_OPTION_TRAITS = {
    **{name: {"hardware_fitted": True} for name in ("bf16", "fp16", "use_cpu", "dataloader_pin_memory")},
    "do_train": {"not_used": "train.py always trains"},
    "do_eval": {"not_used": "train.py always evaluates on its evaluation split (during training too, per --eval_strategy)"},
    "do_predict": {"not_used": "train.py classifies a test split whenever --test_file or --test_split names one"},
    "seed": {"search_managed": True},
    "run_name": {**_MAY_DIFFER, "search_managed": True},
    **{name: _MAY_DIFFER for name in ("report_to", "disable_tqdm", "logging_strategy", "logging_first_step",
                                     "dataloader_num_workers", "dataloader_persistent_workers",
                                     "dataloader_prefetch_factor", "push_to_hub", "hub_model_id", "hub_strategy",
                                     "hub_private_repo")},
}
check_traits(TRAINER_OPTION_TRAITS)


@dataclass
class ColaTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the suite's own options and the suite's defaults (see the module's docstring)."""

    _argument_group_name = "training"

    # --- the suite's own options ---
    freeze: int = field(
        default=0,
        metadata={
            "help": "Freeze the bottom N layer groups (embeddings, encoder layer 0..L-1, pooler) before the optimizer "
            "is built. The classification head is never frozen."
        },
    )
    freeze_method: str = field(
        default="requires_grad",
        metadata={
            "help": "How --freeze freezes. 'requires_grad': frozen parameters get no gradient and are in no optimizer "
            "group, so the backward pass stops at the first trainable group. 'lr0': they stay in the optimizer at "
            "learning rate 0 (the other textbook way): the weights do not move either, but the full backward pass is "
            "paid, and their gradients count in the clipping norm.",
            "choices": ["requires_grad", "lr0"],
        },
    )
    frozen_eval_mode: bool = field(
        default=True,
        metadata={
            "help": "Frozen layer groups run in eval mode (no dropout) while the rest trains; the Trainer's "
            "model.train() at every step would switch their dropout back on. --no-frozen-eval-mode keeps it on. "
            "The default comes from a measurement (README, 'Frozen layers').",
        },
    )
    cache_frozen: bool | None = field(
        default=None,
        metadata={
            "help": "Run the frozen groups once per training and evaluation sentence, when a batch first needs it, and "
            "keep their output, so each step runs only the trainable groups and the head (same losses and weights; "
            "the floor rising with --progressive_freeze grows it). Default (unset): whenever that is exact, i.e. "
            "--freeze > 0 (or a rising floor) with freeze_method requires_grad and frozen_eval_mode. 'true': insist "
            "(refused if it cannot be exact); 'false': never.",
        },
    )
    cache_memory_gb: float = field(
        default=4.0,
        metadata={"resume_may_differ": True,
            "help": "Largest frozen-layer cache kept in memory (GiB); a larger one lives in a memory-mapped file in "
            "output_dir, unlinked at once so nothing stays behind. A cache that fits neither is refused before training.",
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
        default=None,
        metadata={"help": "Explicit class weights, one per class in id order (CoLA: unacceptable acceptable)."},
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
    progressive_freeze: str | None = field(
        default=None,
        metadata={
            "help": "Let the frozen floor rise while the run trains (cola.progressive): 'auto' freezes, bottom-up, the "
            "layer groups whose gradient norm has settled (AutoFreeze: its relative change between windows at or "
            "below --progressive_freeze_percentile of all training groups' changes); 'linear' raises the floor on a "
            "fixed schedule to --progressive_freeze_max. A frozen group stops training, goes to eval mode, leaves the "
            "optimizer, and the frozen-layer cache grows over it. Never below --freeze, never the top layer or head.",
            "choices": ["auto", "linear"],
        },
    )
    progressive_freeze_every: int | None = field(
        default=None,
        metadata={
            "help": "Optimizer steps per window: the floor may rise at each window's end. Default: a tenth of the "
            "run's optimizer steps. Unused without --progressive_freeze.",
        },
    )
    progressive_freeze_start: int | None = field(
        default=None,
        metadata={
            "help": "The optimizer step of the first decision (the floor never rises before it). Default: two "
            "windows (auto compares a window with the one before). Unused without --progressive_freeze.",
        },
    )
    progressive_freeze_max: int | None = field(
        default=None,
        metadata={
            "help": "The most layer groups the floor may reach (counting --freeze's). Default: every group below the "
            "top encoder layer (12 of 14 on a 12-layer model with a pooler). Unused without --progressive_freeze.",
        },
    )
    progressive_freeze_tolerance: float | None = field(
        default=None,
        metadata={
            "help": "auto: a group has settled only if its gradient-norm change is also at or below this (0.1: 10%% "
            "between windows). Default: the percentile alone, as AutoFreeze. Unused without --progressive_freeze auto.",
        },
    )
    progressive_freeze_percentile: float = field(
        default=50.0,
        metadata={
            "help": "auto: a group has settled when its gradient-norm change is at or below this percentile (0-100) "
            "of the changes of all groups still training (AutoFreeze found the median, 50, agrees with its SVCCA "
            "reference). Unused without --progressive_freeze auto.",
        },
    )
    lora_r: int = field(
        default=0,
        metadata={
            "help": "LoRA (low-rank adapters, Hu et al. 2021): the rank of the adapters put beside the target linear "
            "layers of every encoder layer above the --freeze floor; 0 = off. With LoRA the base weights of the "
            "embeddings and of those layers stay still; the adapters, the pooler and the head train. The saved model "
            "has the adapters merged in (a plain model); OUTPUT_DIR/adapter holds the adapter for PEFT. Not with "
            "--gradual_unfreeze_steps or --freeze_method lr0.",
        },
    )
    lora_alpha: float = field(
        default=8.0,
        metadata={"help": "LoRA's scale: an adapter's update is multiplied by alpha / r (Hu et al.'s GLUE runs: r 8, "
                          "alpha 8). Unused when --lora_r is 0."},
    )
    lora_dropout: float = field(
        default=0.0, metadata={"help": "Dropout on the adapters' input, in [0, 1). Unused when --lora_r is 0."}
    )
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata={
            "help": "The linear layers (by their last name) that get adapters, e.g. 'query value'. Default: the "
            "attention's query and value projections of the model type (q_lin v_lin for DistilBERT, q v for MPNet, "
            "query_proj value_proj for DeBERTa-v2, the fused Wqkv for ModernBERT); 'all-linear': every linear layer "
            "of the encoder layers. Unused when --lora_r is 0.",
        },
    )
    seeds: list[int] | None = field(
        default=None,
        metadata={"search_managed": True,
            "help": "Run once per seed (e.g. --seeds 1 2 3 4 5), each in output_dir/seed_N, and write a top-level "
            "results.json with every run and the median, mean, std, min and max of MCC and accuracy. --seed is then unused."
        },
    )

    precision: str = field(
        default="auto",
        metadata={"hardware_fitted": True,
            "help": "Training precision. 'auto': bf16 on GPUs that support it (fp16 on older ones) and on CPUs that do "
            "bf16 matrix math in hardware (AMX or AVX-512 BF16, confirmed by a probe measured once per machine), else "
            "fp32. --bf16/--fp16 given explicitly win over 'auto'.",
            "choices": list(PRECISIONS),
        },
    )
    early_stopping_patience: int | None = field(
        default=None,
        metadata={"help": "Stop after this many evaluations without a better metric_for_best_model (MCC)."},
    )

    # --- the suite's defaults for Trainer options ---
    overwrite_run: bool = field(
        default=False,
        metadata={"resume_may_differ": True, "command_line_only": True, "search_managed": True,
            "help": "Replace the run already in output_dir: its results, model, run_config.json, checkpoints and seed_* "
            "folders are deleted first (nothing else). Without it, a folder that holds a run is refused."
        },
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={"resume_may_differ": True, "command_line_only": True, "search_managed": True,
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
    log_on_each_node: bool = field(
        default=False,
        metadata={"resume_may_differ": True,
                  "help": "Log from the main process of every node. Off: one process of the whole run speaks (the "
                          "start summary, the metrics), however many nodes it spans."},
    )
    ddp_find_unused_parameters: bool | None = field(
        default=None,
        metadata={
            "help": "DDP's search for parameters without gradients. Default: on with --progressive_freeze (the groups "
            "it freezes stop getting gradients while DDP holds them), else off: frozen parameters never register "
            "with DDP, and every trainable one gets a gradient."
        },
    )
    output_dir: str | None = field(
        default="outputs/cola", metadata={"resume_may_differ": True, "search_managed": True,
                                          "help": "Where the model, results.json and run_config.json are written."}
    )
    learning_rate: float = field(default=2e-5, metadata={"help": "Peak learning rate."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Number of passes over the training split."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=128, metadata={"resume_may_differ": True,
                                                                   "help": "Evaluation batch size per device."})
    weight_decay: float = field(default=0.01, metadata={"help": "Weight decay of the decay group."})
    warmup_steps: float = field(
        default=0.1, metadata={"help": "Warm-up: whole steps, or a float below 1 for a ratio of the total steps."}
    )
    eval_strategy: IntervalStrategy | str | None = field(
        default=None,
        metadata={"help": "When to evaluate: 'no', 'steps' or 'epoch'. Default: as --save_strategy says where that is "
                          "'steps' (every --save_steps) or 'epoch', else 'epoch' (the best checkpoint the run ends with "
                          "must have been evaluated)."},
    )
    save_strategy: SaveStrategy | str = field(
        default="epoch", metadata={"help": "When to checkpoint: 'no', 'steps', 'epoch' or 'best'."}
    )
    save_total_limit: int | None = field(default=1, metadata={"resume_may_differ": True,
                                                              "help": "Checkpoints kept (the best is always kept)."})
    load_best_model_at_end: bool = field(
        default=True, metadata={"measured_on": True, "help": "End with the checkpoint that scored best on metric_for_best_model."}
    )
    metric_for_best_model: str | None = field(
        default="matthews_correlation", metadata={"measured_on": True,
                                                  "help": "Metric that picks the best checkpoint (CoLA's official one)."}
    )
    logging_steps: float = field(default=50, metadata={"resume_may_differ": True, "help": "Log the training loss every N steps."})
    label_names: list[str] | None = field(
        default=None,
        metadata={"help": "The Trainer's label columns: set by the suite (the class and the group). Your classes' "
                          "names are --class_names."},
    )
    logging_nan_inf_filter: bool = field(
        default=False,
        metadata={"resume_may_differ": True,
                  "help": "Leave NaN/inf losses out of the logged loss. Off: a diverging run shows it (and fails)."},
    )

    def __post_init__(self):
        self._take_hub_token()
        self._check_hub_model_id()
        self._evaluate_as_saved()
        self._check_ranges()  # first: the Trainer's own checks would word some of these less plainly, or miss them
        if problem := launch_problem(os.environ):
            raise ValueError(problem)
        # Before the parent turns bf16/fp16 into its mixed-precision setting. The user's own values are kept in
        # `requested`: run_config.json stores those, so 'auto' stays 'auto' when the run is replayed elsewhere.
        self.requested = {f.name: getattr(self, f.name) for f in fields(self)
                          if traits_of(f, TRAINER_OPTION_TRAITS).get("hardware_fitted")}
        fit = fit_to_hardware(self.precision, bf16=self.bf16, fp16=self.fp16, use_cpu=self.use_cpu,
                              pin_memory=self.dataloader_pin_memory)
        self.precision, self.bf16, self.fp16 = fit.precision, fit.precision == "bf16", fit.precision == "fp16"
        self.use_cpu, self.dataloader_pin_memory = fit.use_cpu, fit.pin_memory
        # The collator passes each example's group as a second label, for the per-group metrics.
        if self.label_names not in (None, list(LABEL_COLUMNS)):  # (older files' value: cola.schema upgrades it)
            raise ValueError("label_names (the Trainer's label columns) is set by the suite; your classes' names are "
                             "--class_names")
        self.label_names = list(LABEL_COLUMNS)
        # The folder the run will actually write into, however it was spelled (`X/missing/..`, a symlink, a trailing
        # slash): every check of it, and every write, is about this one (cola.output_dir).
        if self.output_dir is not None and not self.output_dir.strip():  # not quietly the default folder
            raise ValueError("output_dir is empty; name a folder (or leave the option out for outputs/cola)")
        self.output_dir = str(real_path(self.output_dir or "outputs/cola"))
        super().__post_init__()
        if self.freeze < 0:
            raise ValueError(f"freeze must be 0 or more, got {self.freeze}")
        if not 0 < self.layer_lr_decay <= 1:
            raise ValueError(f"layer_lr_decay must be in (0, 1] (1 = off), got {self.layer_lr_decay}")
        if self.head_lr_multiplier <= 0:
            raise ValueError(f"head_lr_multiplier must be positive, got {self.head_lr_multiplier}")
        if self.gradual_unfreeze_steps is not None and self.gradual_unfreeze_steps < 1:
            raise ValueError(f"gradual_unfreeze_steps must be a positive number of steps, got {self.gradual_unfreeze_steps}")
        if self.lora_r < 0:
            raise ValueError(f"lora_r must be 0 (off) or more, got {self.lora_r}")
        if not (math.isfinite(self.lora_alpha) and self.lora_alpha > 0):
            raise ValueError(f"lora_alpha must be a positive number, got {self.lora_alpha}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.lora_target_modules is not None and not self.lora_target_modules:
            raise ValueError("lora_target_modules takes one or more layer names (or all-linear); leave it out for the "
                             "model type's default")
        if self.lora_r and self.gradual_unfreeze_steps:
            raise ValueError("lora_r and gradual_unfreeze_steps do not combine: with LoRA no base weight of a layer "
                             "trains, so there is nothing to unfreeze gradually; give one")
        self._check_progressive_freeze()
        if self.ddp_find_unused_parameters is None:
            self.ddp_find_unused_parameters = self.progressive_freeze is not None
        if self.lora_r and self.freeze_method != "requires_grad":
            raise ValueError("lora_r needs --freeze_method requires_grad: LoRA holds the base weights without gradients")
        obstacle = cache_obstacle(freeze=self.freeze, method=self.freeze_method, eval_mode=self.frozen_eval_mode,
                                  rising=self.progressive_freeze is not None)
        if self.cache_frozen and obstacle:  # asked for explicitly: say why it cannot be exact, not quietly skip it
            raise ValueError(f"cache_frozen cannot be exact: {obstacle[0]}; {obstacle[1]}")
        if not (math.isfinite(self.cache_memory_gb) and self.cache_memory_gb >= 0):
            raise ValueError(f"cache_memory_gb must be 0 or more, got {self.cache_memory_gb}")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError(f"seeds takes one or more distinct integers, got {self.seeds}")
        if self.early_stopping_patience is not None and (
            self.early_stopping_patience < 1 or self.eval_strategy == IntervalStrategy.NO
        ):
            raise ValueError("early_stopping_patience needs a positive value and an eval_strategy other than 'no'")
        if self.class_weight_values is not None:
            if not self.class_weights:
                raise ValueError("class_weight_values was given together with --no-class-weights; drop one")
            if min(self.class_weight_values, default=0) <= 0:
                raise ValueError(f"class_weight_values takes positive weights, one per class, got {self.class_weight_values}")

    def _check_progressive_freeze(self) -> None:
        """A rising floor's settings, and what it does not combine with (each a one-line error)."""
        for name in ("progressive_freeze_every", "progressive_freeze_start", "progressive_freeze_max"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "progressive_freeze_start" else 1):
                raise ValueError(f"{name} must be a positive number{' (or 0)' if name.endswith('start') else ''}, got {value}")
        tolerance = self.progressive_freeze_tolerance
        if tolerance is not None and not (math.isfinite(tolerance) and tolerance >= 0):
            raise ValueError(f"progressive_freeze_tolerance must be 0 or more, got {tolerance}")
        if not (math.isfinite(self.progressive_freeze_percentile) and 0 <= self.progressive_freeze_percentile <= 100):
            raise ValueError(f"progressive_freeze_percentile must be in [0, 100], got {self.progressive_freeze_percentile}")
        if self.progressive_freeze is None:
            return
        if self.progressive_freeze_max is not None and self.progressive_freeze_max <= self.freeze:
            raise ValueError(f"progressive_freeze_max ({self.progressive_freeze_max}) must be above --freeze "
                             f"({self.freeze}): the floor rises from --freeze")
        clashes = {"lora_r": (self.lora_r, "LoRA holds the base weights already"),
                   "gradual_unfreeze_steps": (self.gradual_unfreeze_steps, "gradual unfreezing lowers the floor it raises"),
                   "freeze_method lr0": (self.freeze_method != "requires_grad", "lr0 keeps frozen groups in the optimizer")}
        for name, (given, why) in clashes.items():
            if given:
                raise ValueError(f"progressive_freeze and {name} do not combine: {why}; give one")
        scheduler = str(getattr(self.lr_scheduler_type, "value", self.lr_scheduler_type))
        if scheduler in ("reduce_lr_on_plateau", "greedy"):
            raise ValueError(f"progressive_freeze needs a step-based schedule (linear, cosine, constant, ...); "
                             f"{scheduler} is not one")
        if self.ddp_find_unused_parameters is False:
            raise ValueError("progressive_freeze needs ddp_find_unused_parameters (on by default with it): the groups it "
                             "freezes stop getting gradients while DDP still holds them")

    def _take_hub_token(self) -> None:
        """`--hub_token` moves to this process's HF_TOKEN, where huggingface_hub reads it (the upload, a private
        model's download): the arguments are pickled into training_args.bin in the output folder and in every
        checkpoint, logged to W&B and uploaded with --push_to_hub, so they never hold a credential."""
        if self.hub_token:
            os.environ["HF_TOKEN"] = self.hub_token
            self.hub_token = None

    def _evaluate_as_saved(self) -> None:
        """An evaluation strategy left unset follows the save strategy, so `--save_strategy steps --save_steps N` alone
        works with the best checkpoint at the end (it needs an evaluation at each save)."""
        if self.eval_strategy is None:
            save = str(getattr(self.save_strategy, "value", self.save_strategy))
            self.eval_strategy = save if save in ("steps", "epoch") else "epoch"
            if save == "steps" and self.eval_steps is None:
                self.eval_steps = self.save_steps

    def _check_hub_model_id(self) -> None:
        """A repository id (`name` or `namespace/name`), nothing else: `user:TOKEN@org/model` would be written in
        clear into run_config.json, results.json and every checkpoint. The value is not quoted (it may be that)."""
        if self.hub_model_id is None:
            return
        try:
            validate_repo_id(self.hub_model_id)
        except HFValidationError:
            raise ValueError("hub_model_id takes a Hub repository id, 'name' or 'namespace/name' (letters, digits, "
                             "'-', '_', '.'); a token belongs in HF_TOKEN or --hub_token, never in the id") from None

    def _check_best_model_strategies(self) -> None:
        """The Trainer's own check, worded for the suite, whose default (not the Trainer's) turns
        load_best_model_at_end on: the user may never have asked for it."""
        evaluate, save = (str(getattr(value, "value", value)) for value in (self.eval_strategy, self.save_strategy))
        if self.load_best_model_at_end and save != "best" and evaluate != save:
            raise ValueError(f"load_best_model_at_end (on by default in this suite: the run ends with its best "
                             f"checkpoint) needs --save_strategy to match --eval_strategy, got save '{save}' and eval "
                             f"'{evaluate}'; give --save_strategy {evaluate}, or --load_best_model_at_end false")

    def _check_ranges(self) -> None:
        """Numbers that would fail late (after training) or silently (a run of 0 steps, a NaN loss): refused now."""
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate}")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more, got {getattr(self, name)}")
        # The Trainer allocates buffers of the batch size it is given, not of the batch it gets (its evaluation loop:
        # 4 TB for 10^12), and only when it first evaluates: refused now, not after an hour of training.
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size"):
            if getattr(self, name) > MAX_BATCH:
                raise ValueError(f"{name} is limited to {MAX_BATCH:,}, got {getattr(self, name):,}")
        if self.max_steps <= 0 and not (math.isfinite(self.num_train_epochs) and self.num_train_epochs > 0):
            raise ValueError(f"num_train_epochs must be a positive number (or give max_steps), got {self.num_train_epochs}")
        # Beyond these the Trainer's step arithmetic overflows (epochs x steps per epoch becomes inf).
        if self.num_train_epochs > MAX_EPOCHS or self.max_steps > MAX_STEPS:
            raise ValueError(f"num_train_epochs is limited to {MAX_EPOCHS:,} and max_steps to {MAX_STEPS:,}, got "
                             f"{self.num_train_epochs:g} and {self.max_steps}")
        if not 0 <= self.label_smoothing_factor < 1:
            raise ValueError(f"label_smoothing_factor must be in [0, 1), got {self.label_smoothing_factor}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be 0 or more, got {self.weight_decay}")
        if not (math.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0):
            raise ValueError(f"max_grad_norm must be 0 (no clipping) or more, got {self.max_grad_norm}")
        if self.dataloader_num_workers < 0:
            raise ValueError(f"dataloader_num_workers must be 0 or more, got {self.dataloader_num_workers}")
        if self.dataloader_prefetch_factor is not None and self.dataloader_prefetch_factor < 1:
            raise ValueError(f"dataloader_prefetch_factor must be 1 or more, got {self.dataloader_prefetch_factor}")
        # Packages the Trainer imports only when it starts (a traceback then); the optimizer's are checked by
        # cola.optimizer_check.
        for option, package, install in (("deepspeed", "deepspeed", "deepspeed"),
                                         ("use_liger_kernel", "liger_kernel", "liger-kernel")):
            if getattr(self, option) and importlib.util.find_spec(package) is None:
                raise ValueError(f"--{option} needs the {install} package: pip install {install}")
        if self.class_weight_values is not None and not all(math.isfinite(w) for w in self.class_weight_values):
            raise ValueError(f"class_weight_values must be finite numbers, got {self.class_weight_values}")
        for seed in [self.seed, *(self.seeds or [])]:
            if not 0 <= seed <= MAX_SEED:  # numpy's generator takes 32-bit seeds; set_seed seeds it too
                raise ValueError(f"seeds must be between 0 and {MAX_SEED}, got {seed}")
        self._check_best_model_strategies()
        if self.overwrite_run and self.resume_from_checkpoint:
            raise ValueError("--overwrite_run deletes the checkpoints --resume_from_checkpoint would continue; give one")
        if self.bf16 and self.fp16:
            raise ValueError("--bf16 and --fp16 contradict each other; give one (or --precision)")


def cache_obstacle(*, freeze: int, method: str, eval_mode: bool, rising: bool = False) -> tuple[str, str] | None:
    """Why running the frozen groups once per sentence (`cola.frozen_cache`) could not give what they compute at
    every step, and what to give instead; None when it can. The one home of this rule: the options refuse an
    explicit --cache_frozen true with it, and the plan (`TrainingPlan.why_not_cached`) declines the cache with it.
    `rising`: the floor rises during the run (`--progressive_freeze`), so it may start at nothing."""
    if freeze == 0 and not rising:
        return "nothing is frozen", "give --freeze N (N > 0)"
    if method != "requires_grad":
        return (f"--freeze_method {method} keeps the frozen groups in the backward pass",
                "it needs --freeze_method requires_grad")
    if not eval_mode:
        return ("--no-frozen-eval-mode: dropout in the frozen groups changes their output at every step",
                "it needs frozen_eval_mode")
    return None


def launch_problem(environ) -> str | None:
    """Why this process would train alone when its launcher asked for several, or None.

    `accelerate launch --cpu` (and, on a machine without several GPUs, `accelerate launch` without --multi_gpu) runs
    its single-process launcher even with --num_machines/--num_processes above 1: it sets MASTER_ADDR but starts one
    plain process per machine, with no rank or world size, so each machine would train alone on all the data (and
    the second to reach a shared output folder would be refused). torchrun, accelerate's --multi_gpu launcher
    (which runs torchrun, on CPUs too) and mpirun set the world size; a process with none of them and accelerate's
    MASTER_ADDR was asked to be one of several.
    """
    launched_by_accelerate = "ACCELERATE_MIXED_PRECISION" in environ and "MASTER_ADDR" in environ
    ranked = any(name in environ for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"))
    if launched_by_accelerate and not ranked:
        return ("accelerate launch asked for several processes but started this one alone (its single-process "
                "launcher forms no process group, so each would train on its own): add --multi_gpu, which runs "
                "torchrun on CPUs too, or launch with torchrun")
    return None


def lone_process_threads(environ, *, cores: int | None, gpu: bool) -> int | None:
    """The CPU threads a process `accelerate launch` started alone should use, where it gave it one: accelerate sets
    OMP_NUM_THREADS=1 for a process it does not launch with --cpu, so the whole run trained on one core (60 steps in
    8.0 s against 5.9 s). torchrun leaves a lone process every core, as this does. None: nothing to change."""
    launched_by_accelerate = "ACCELERATE_MIXED_PRECISION" in environ
    alone = environ.get("WORLD_SIZE", "1") == "1"
    if launched_by_accelerate and alone and not gpu and environ.get("OMP_NUM_THREADS") == "1" and (cores or 1) > 1:
        return cores
    return None
