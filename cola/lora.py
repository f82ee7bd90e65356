"""Low-rank adapters (LoRA, Hu et al. 2021) as one more answer to "which parameters train": a plan, like freezing.

`lora_plan` reads the four LoRA options and returns a `TrainingPlan` whose `adapters` (`LoraAdapters`, the plan's
`Adapters` interface) say where they went and how they are held, reported and saved: PEFT's
`inject_adapter_in_model` puts a pair of low-rank matrices beside each target linear layer of every encoder layer
above the `--freeze` floor, in place, so the model keeps its class, its module names (plus `.base_layer` and
`.lora_A/.lora_B`) and its layer groups; every other room (the frozen-prefix cache, layer-wise LR, checkpoints,
DDP) works on it unchanged. What trains: the adapters, the groups after the encoder layers (pooler, final norm) and
the classification head, fully; the base weights of the embeddings and the layers above the floor are held still,
and the groups below the floor are frozen (and cached) as without LoRA.

Decided: gradual unfreezing and `--freeze_method lr0` are refused with LoRA (both stage or keep base weights in the
optimizer, and with LoRA no base weight of a layer ever trains); the embeddings carry no adapter unless a target
module names them, so `--freeze 1` (or more) is what lets the cache take them.

The run's output folder holds a plain model (`merged_copy`: each adapter merged into its base weight, the wrapper
layers removed) that `pipeline()` and `cola.predict` load with no PEFT code, and the adapter itself in
`adapter/` (`adapter_model.safetensors`, `adapter_config.json`: `PeftModel.from_pretrained(base, DIR/adapter)`).
Checkpoints keep the injected model as it trains, so resuming is exact.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from .errors import CliError
from .files import write_atomic
from .freezing import LayerGroup, find_layer_groups, modules_of, place
from .packaged import hub_id, packaged_model
from .plan import TrainingPlan, plan_from
from .run_files import ADAPTER_DIR

logger = logging.getLogger(__name__)

# The attention query and value projections per model type (Hu et al. adapt W_q and W_v). ModernBERT computes
# query, key and value in one fused linear layer (Wqkv): adapting it is the nearest equivalent.
QUERY_VALUE = {
    "bert": ("query", "value"), "roberta": ("query", "value"), "electra": ("query", "value"),
    "xlm-roberta": ("query", "value"), "camembert": ("query", "value"), "ernie": ("query", "value"),
    "mobilebert": ("query", "value"), "albert": ("query", "value"), "distilbert": ("q_lin", "v_lin"),
    "mpnet": ("q", "v"), "deberta-v2": ("query_proj", "value_proj"), "modernbert": ("Wqkv",),
}
ALL_LINEAR = "all-linear"
ADAPTER_MARK = ".lora_"  # in the name of every LoRA adapter parameter (lora_A, lora_B)


def is_adapter(name: str) -> bool:
    return ADAPTER_MARK in name


@dataclass(frozen=True)
class LoraAdapters:
    """Where LoRA's adapters went and how they are set (made by `lora_plan`); the plan's `Adapters`."""

    r: int
    alpha: float
    dropout: float
    target_names: tuple[str, ...]  # as asked (or the model type's default): short names, or all-linear
    modules: tuple[str, ...]  # the full names of the adapted linear layers
    held: tuple[str, ...]  # the groups above the floor whose base weights stay still (embeddings, layers)
    head: tuple[str, ...]  # the modules that train fully (head, pooler, final norm): the adapter's modules_to_save
    parameters: int  # in the adapters
    base_model: str  # what the adapter goes on, as PEFT loads it: a packaged model's folder, a local folder, a Hub id
    kind: str = "lora"

    def hold(self, groups) -> None:
        """Above the floor, only the adapters of the held groups train (their base weights get no gradient)."""
        for group in groups:
            if group.name in self.held:
                for name, param in group.parameters:
                    param.requires_grad_(is_adapter(name))

    def parameters_in(self, group) -> int:
        return sum(param.numel() for name, param in group.parameters if is_adapter(name))

    def table_row(self, group) -> dict:
        return {"lora_adapter_params": self.parameters_in(group)}

    def summary(self) -> dict:
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "target_modules": list(self.target_names),
                "adapted_layers": len(self.modules), "adapter_parameters": self.parameters}

    def save(self, model: nn.Module, output_dir) -> nn.Module:
        """The adapter in OUTPUT_DIR/adapter (`save_adapter`); the plain model to save beside it (`merged_copy`)."""
        save_adapter(model, self, output_dir)
        return merged_copy(model)


def lora_plan(args, model: nn.Module, groups: list[LayerGroup], *, base_model: str) -> TrainingPlan:
    """The plan for `--lora_r R`: adapters injected into the target layers above the floor (the model is changed in
    place), the layer groups found again so they hold the adapters, and what stays still."""
    from peft import LoraConfig, inject_adapter_in_model

    plan = plan_from(args, groups)  # the floor, checked against the model's groups
    layers = [g for g in groups if place(g.name) == "layer"]
    above = [g for g in layers if groups.index(g) >= plan.floor]
    if not above:
        raise CliError(f"--lora_r {args.lora_r} with --freeze {plan.floor}: no encoder layer is left above the floor to "
                       f"carry adapters; freeze fewer groups (this model has {len(layers)} layers)")
    wanted = tuple(args.lora_target_modules or default_targets(model))
    modules = target_modules(model, above, wanted)
    check_rank(args.lora_r, model, modules)
    config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                        target_modules=list(modules), bias="none")
    wanted_grad = {id(param): param.requires_grad for param in model.parameters()}
    inject_adapter_in_model(config, model)
    # PEFT turns every gradient but the adapters' off; the plan says what trains (the head, above all), so each
    # parameter gets back the flag it had, and `TrainingPlan.apply` sets them.
    for param in model.parameters():
        param.requires_grad_(wanted_grad.get(id(param), True))
    groups = find_layer_groups(model)  # again: the adapters' parameters belong to their layer's group
    first_top = max(i for i, g in enumerate(groups) if place(g.name) == "layer") + 1
    held = tuple(g.name for g in groups[plan.floor:first_top])
    parameters = sum(p.numel() for name, p in model.named_parameters() if is_adapter(name))
    adapters = LoraAdapters(r=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout, target_names=wanted,
                        modules=modules, held=held, head=head_modules(model, groups[first_top:]), parameters=parameters,
                        base_model=_loadable_base(base_model))
    return replace(plan, groups=tuple(groups), adapters=adapters)


def _loadable_base(name: str) -> str:
    """What the adapter's config names as its base, for `PeftModel.from_pretrained` to load: a packaged model's
    folder (its Hub id would need the network), a local folder's full path, or the Hub id."""
    row = packaged_model(name)
    if row:
        return row.folder()
    return hub_id(name) or str(Path(name).expanduser().resolve())


def check_rank(r: int, model: nn.Module, modules: tuple[str, ...]) -> None:
    """A rank above a layer's smaller side adds parameters and no expressiveness (and at a typo's size, e.g. 1e5,
    would allocate gigabytes): refused, naming the narrowest layer."""
    narrowest = min(modules, key=lambda name: min(model.get_submodule(name).weight.shape))
    width = min(model.get_submodule(narrowest).weight.shape)
    if r > width:
        raise CliError(f"--lora_r {r} is larger than the layers it adapts ({narrowest}: {width} wide at the narrowest); "
                       f"give at most {width}")


def default_targets(model: nn.Module) -> tuple[str, ...]:
    kind = model.config.model_type
    if kind not in QUERY_VALUE:
        raise CliError(f"--lora_r: no default adapter targets for model type '{kind}'; name them with "
                       f"--lora_target_modules (e.g. the attention's query and value layers, or {ALL_LINEAR})")
    return QUERY_VALUE[kind]


def target_modules(model: nn.Module, above: list[LayerGroup], wanted: tuple[str, ...]) -> tuple[str, ...]:
    """Full names of the linear layers to adapt: in the layers above the floor, those whose last name is one of
    `wanted` (or every one, for all-linear). A name that matches nothing is a one-line error listing the choices."""
    params = {name for g in above for name, _ in g.parameters}
    linears = [(name, name.rsplit(".", 1)[-1]) for name, module in model.named_modules()
               if isinstance(module, nn.Linear) and f"{name}.weight" in params]
    if list(wanted) == [ALL_LINEAR]:
        return tuple(name for name, _ in linears)
    if ALL_LINEAR in wanted:
        raise CliError(f"--lora_target_modules: {ALL_LINEAR} stands alone; give it or module names")
    available = sorted({short for _, short in linears})
    missing = [w for w in wanted if w not in available]
    if missing:
        raise CliError(f"--lora_target_modules: no linear layer named {', '.join(missing)} in this model's encoder "
                       f"layers; they hold: {', '.join(available)} (or {ALL_LINEAR})")
    return tuple(name for name, short in linears if short in wanted)


def head_modules(model: nn.Module, tops: list[LayerGroup]) -> tuple[str, ...]:
    """The modules that train fully beside the adapters: the head (every child of the model outside the encoder
    with parameters) and the groups after the layers (pooler, final norm), by module name."""
    base = model.base_model
    names = [name for name, child in model.named_children() if child is not base and any(True for _ in child.parameters())]
    name_of = {id(module): name for name, module in model.named_modules()}
    return tuple(names + [name_of[id(module)] for module in modules_of(model, tops)])


def merged_copy(model: nn.Module) -> nn.Module:
    """A copy of the model with every adapter merged into its base weight and the wrapper layers removed: the
    model class's own modules and parameter names, loadable with no PEFT code."""
    from peft.tuners.lora import LoraLayer

    merged = copy.deepcopy(model)
    for name, module in list(merged.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge(safe_merge=True)
            parent, _, child = name.rpartition(".")
            setattr(merged.get_submodule(parent), child, module.get_base_layer())
    if hasattr(merged, "peft_config"):
        del merged.peft_config
    return merged


def save_adapter(model: nn.Module, adapters: LoraAdapters, output_dir: str) -> Path:
    """OUTPUT_DIR/adapter: what `PeftModel.from_pretrained(base, OUTPUT_DIR/adapter)` loads (the adapters and the
    fully trained head), in PEFT's own key names; a subfolder, so the folder above stays a plain model (transformers
    would take an adapter_config.json beside config.json for an adapter to load on top of its base)."""
    from peft import LoraConfig, TaskType, get_peft_model_state_dict
    from safetensors.torch import save

    folder = Path(output_dir) / ADAPTER_DIR
    folder.mkdir(exist_ok=True)
    state = {f"base_model.model.{key}": value.detach().contiguous()
             for key, value in get_peft_model_state_dict(model).items()}
    heads = tuple(f"{name}." for name in adapters.head)
    state |= {f"base_model.model.{name}": param.detach().contiguous()
              for name, param in model.named_parameters() if name.startswith(heads)}
    write_atomic(folder / "adapter_model.safetensors", save(state, metadata={"format": "pt"}))
    config = LoraConfig(r=adapters.r, lora_alpha=adapters.alpha, lora_dropout=adapters.dropout,
                        target_modules=list(adapters.modules), modules_to_save=list(adapters.head), bias="none",
                        task_type=TaskType.SEQ_CLS, base_model_name_or_path=adapters.base_model)
    document = config.to_dict() | {"target_modules": sorted(adapters.modules)}  # PEFT keeps a set: unordered
    write_atomic(folder / "adapter_config.json", json.dumps(document, indent=2, default=list) + "\n")
    return folder
