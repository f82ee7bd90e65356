"""Layer groups, found from the model's structure, and freezing the bottom N of them.

Groups, bottom to top: `embeddings`, `layer_00` ... `layer_{L-1}`, then what runs after the layers: `pooler`
(when the model has one) or a final norm (ModernBERT's `final_norm`). The classification head is not a layer
group and is never frozen. The list is discovered from modules, not from `bert.`-style name prefixes:

- the encoder layers are the model's `nn.ModuleList` with `num_hidden_layers` entries. ALBERT has one layer (per
  layer group) that runs at every depth: its groups are `shared_layer` (`shared_layer_00`, ... for several), and
  freezing it freezes every depth at once;
- the base model's parts registered after the one that holds the layers run after them: the pooler, a final norm.
  Each is a group of its own, named after it, on top;
- every other base-model parameter sits below or beside the layers, and belongs to `embeddings`: the embeddings,
  ELECTRA's `embeddings_project`, ALBERT's input projection, and the tables every layer reads (MPNet's relative
  attention bias, DeBERTa's relative embeddings and their norm). Frozen with the embeddings, they are read by
  the layers above as they are; the frozen-prefix cache leaves them running (`cola.frozen_cache`).

`check_bottom_up` checks on one forward pass that the groups run in that order.

Layer-wise LR decay, gradual unfreezing and the frozen-layer cache reuse these groups; freezing touches
`requires_grad` and nothing else (with the lr0 method, not even that: the optimizer does it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerGroup:
    name: str
    parameters: list[tuple[str, nn.Parameter]]  # (name in the model, parameter)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for _, p in self.parameters)

    @property
    def frozen(self) -> bool:
        return all(not p.requires_grad for _, p in self.parameters)


def place(group_name: str) -> str:
    """Where a group sits: "embeddings", "layer" (`layer_NN`, ALBERT's `shared_layer...`) or "top" (what runs after
    the layers: the pooler, a final norm; it feeds only the classifier)."""
    if group_name == "embeddings":
        return "embeddings"
    return "layer" if group_name.startswith(("layer_", "shared_layer")) else "top"


def find_layer_groups(model: nn.Module) -> list[LayerGroup]:
    base = model.base_model
    if base is model:
        raise ValueError(f"{type(model).__name__} has no separate base model: cannot tell the head from the encoder")
    prefix = _prefix_of(model, base)
    layers_name, layers, shared = _encoder_layers(base, model.config)
    names = (["shared_layer"] if len(layers) == 1 else [f"shared_layer_{i:02d}" for i in range(len(layers))]) if shared \
        else [f"layer_{i:02d}" for i in range(len(layers))]
    layer_groups = [LayerGroup(name, []) for name in names]
    embeddings = LayerGroup("embeddings", [])
    after = _after_layers(base, layers_name)
    tops = [LayerGroup(name, []) for name, _ in after]
    owner = {id(p): layer_groups[i] for i, layer in enumerate(layers) for p in layer.parameters()}
    owner |= {id(p): group for group, (_, child) in zip(tops, after) for p in child.parameters()}
    for name, param in base.named_parameters():
        owner.get(id(param), embeddings).parameters.append((prefix + name, param))
    if not embeddings.parameters:
        raise ValueError(f"no embedding parameters found outside {layers_name} in {type(base).__name__}")
    return [embeddings, *layer_groups, *(g for g in tops if g.parameters)]


def check_bottom_up(model: nn.Module, groups: list[LayerGroup]) -> None:
    """The groups must run in the order they are counted: embeddings, then each layer, then the pooler.

    Checked on one forward pass of the model's dummy inputs, recording which group each module belongs to as it
    runs. A model with parameters outside the encoder layers that run after them (GPT-2's final norm, which the
    structural rule would file under `embeddings`) fails here with a `ValueError`, instead of being frozen wrongly.
    """
    group_of = {id(p): i for i, g in enumerate(groups) for _, p in g.parameters}
    watched: list[tuple[int, str, nn.Module]] = []
    for name, module in model.named_modules():
        owned = {group_of[id(p)] for p in module.parameters(recurse=False) if id(p) in group_of}
        if len(owned) == 1:
            watched.append((owned.pop(), name, module))
    calls = [watched[i][:2] for i in call_order(model, [module for _, _, module in watched])]
    for (before, _), (after, name) in zip(calls, calls[1:]):
        if after < before:
            raise ValueError(f"{name} (in group {groups[after].name}) runs after {groups[before].name}: this model's "
                             f"layers are not embeddings -> encoder layers -> pooler")


def call_order(model: nn.Module, modules: list[nn.Module]) -> list[int]:
    """Indices into `modules`, one per call, in the order they run on one forward pass (`dummy_forward`)."""
    calls: list[int] = []
    hooks = [m.register_forward_pre_hook(lambda *_, i=i: calls.append(i)) for i, m in enumerate(modules)]
    try:
        dummy_forward(model)
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def dummy_forward(model: nn.Module) -> None:
    """One eval-mode forward pass of the model's dummy inputs (one row: no padding needed), without gradients, for
    hooks to watch; the model's train/eval mode is restored afterwards."""
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(input_ids=model.dummy_inputs["input_ids"][:1].to(model.device))
    finally:
        model.train(was_training)


def head_parameters(model: nn.Module, groups: list[LayerGroup]) -> list[tuple[str, nn.Parameter]]:
    """Parameters outside every layer group: the task head (classifier, and any projection before it)."""
    in_groups = {id(p) for g in groups for _, p in g.parameters}
    return [(n, p) for n, p in model.named_parameters() if id(p) not in in_groups]


def freeze_bottom(groups: list[LayerGroup], floor: int, *, method: str = "requires_grad") -> None:
    """Freeze groups[:floor] and make the rest trainable (fastai's `freeze_to`, counted from the bottom).

    method "requires_grad" turns their gradients off. Method "lr0" leaves every group trainable here: the bottom `floor`
    are frozen by the optimizer, which gives them a learning rate of 0 (`param_groups.build_param_groups`).
    A `floor` outside 0..len(groups) is a `ValueError` that says the range; the caller names the option."""
    if not 0 <= floor <= len(groups):
        names = ", ".join(g.name for g in groups)
        raise ValueError(f"{floor} is out of range: this model has {len(groups)} layer groups ({names}); use 0..{len(groups)}")
    if method not in ("requires_grad", "lr0"):
        raise ValueError(f"unknown freeze method {method!r}")
    for i, group in enumerate(groups):
        for _, param in group.parameters:
            param.requires_grad_(i >= floor or method == "lr0")


def modules_of(model: nn.Module, groups: list[LayerGroup]) -> list[nn.Module]:
    """The outermost modules of `model` whose parameters all belong to `groups`: for the embeddings group, BERT's
    `embeddings` (with its dropout inside) and ELECTRA's `embeddings_project`; for a layer group, the layer."""
    wanted = {id(p) for g in groups for _, p in g.parameters}
    found: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        params = list(module.parameters())
        if params and all(id(p) in wanted for p in params):
            found.append(module)
        elif any(id(p) in wanted for p in params):
            for child in module.children():
                visit(child)

    visit(model)
    return found


def _encoder_layers(base: nn.Module, config) -> tuple[str, nn.ModuleList, bool]:
    """(name, the ModuleList of encoder layers, whether each entry is shared by several depths: ALBERT)."""
    n_layers = getattr(config, "num_hidden_layers", None)
    lists = [(name, m) for name, m in base.named_modules() if isinstance(m, nn.ModuleList)]
    candidates = [(name, m) for name, m in lists if len(m) == n_layers]
    if len(candidates) == 1:
        return (*candidates[0], False)
    n_shared = getattr(config, "num_hidden_groups", None)  # ALBERT: layer groups, each run at several depths
    shared = [(name, m) for name, m in lists if n_shared and len(m) == n_shared and n_shared < (n_layers or 0)]
    if not candidates and shared:
        return (*shared[0], True)  # the outermost such list: the layer groups, not the layers inside one
    raise ValueError(f"expected one ModuleList of {n_layers} encoder layers in {type(base).__name__}, found {len(candidates)}")


def _after_layers(base: nn.Module, layers_name: str) -> list[tuple[str, nn.Module]]:
    """The base model's parts registered after the one that holds the layers, with parameters: they run on the
    last layer's output (a pooler, a final norm). `check_bottom_up` confirms the order on a forward pass."""
    children = list(base.named_children())
    holder = next(i for i, (name, _) in enumerate(children) if layers_name == name or layers_name.startswith(name + "."))
    return [(name, child) for name, child in children[holder + 1:] if any(True for _ in child.parameters())]


def _prefix_of(model: nn.Module, base: nn.Module) -> str:
    for name, module in model.named_modules():
        if module is base:
            return f"{name}." if name else ""
    raise ValueError("base model is not a submodule of the model")
