"""Optimizer parameter groups: a pure function of the model and the settings.

One group per (unit, decay kind), top of the network first: `head.decay`, `head.no_decay`, `pooler.decay`,
`layer_05.decay`, ..., `embeddings.no_decay`. The head comes first because the Trainer logs group 0's rate
as "learning_rate": that should be the base schedule, not the embeddings' decayed or gated rate. Each group
dict carries its `name`, its `unit` (the layer group, or `head`), its `param_names` and an absolute `lr`
(Hugging Face schedulers scale each group's own initial LR), so logs, tests and the gradual-unfreezing
schedule can refer to it.

Layer-wise LR decay (`layer_lr_decay` d, ULMFiT's discriminative rates): the head (classifier and pooler)
trains at `lr * head_lr_multiplier`, encoder layer i of L (0-based, `layer_{i}`) at `lr * d**(L - i)`, and
the embeddings at `lr * d**(L + 1)`: each step down the network multiplies the rate by d once more.

What decays is decided by structure, not by names such as "LayerNorm.weight" (DistilBERT calls its norms
`sa_layer_norm`):
- no decay: every 1-D parameter (biases, norm scales), every parameter of a normalization layer, and any
  parameter whose name matches one of `no_decay_patterns`;
- decay: weight matrices of Linear/Conv layers, and embedding matrices unless `decay_embeddings` is off.

Precedence: freezing wins over everything (a frozen parameter is in no group: the optimizer never sees it;
frozen by `--freeze_method lr0`, it is in a group at learning rate 0);
then `no_decay_patterns` and the structural rule decide decay; `weight_decay` applies to the decay groups only.
"""

from __future__ import annotations

from fnmatch import fnmatch

from torch import nn

from .freezing import LayerGroup, head_parameters, place

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.batchnorm._BatchNorm, nn.LocalResponseNorm)


def build_param_groups(
    model: nn.Module,
    *,
    layer_groups: list[LayerGroup],
    lr: float,
    weight_decay: float,
    decay_embeddings: bool = True,
    no_decay_patterns: tuple[str, ...] | list[str] = (),
    layer_lr_decay: float = 1.0,
    head_lr_multiplier: float = 1.0,
    zero_lr_units: frozenset[str] = frozenset(),
) -> list[dict]:
    """`zero_lr_units`: layer groups frozen by `--freeze_method lr0`; they get groups at learning rate 0."""
    owners = {}
    for module in model.modules():
        for param in module.parameters(recurse=False):
            owners.setdefault(id(param), module)

    rates = layer_learning_rates(
        [g.name for g in layer_groups], lr=lr, layer_lr_decay=layer_lr_decay, head_lr_multiplier=head_lr_multiplier
    )
    rates.update(dict.fromkeys(zero_lr_units, 0.0))
    units = [("head", head_parameters(model, layer_groups))] + [(g.name, g.parameters) for g in reversed(layer_groups)]
    groups = []
    for unit, named_params in units:
        buckets = {"decay": [], "no_decay": []}
        for name, param in named_params:
            if not param.requires_grad:
                continue  # frozen: the optimizer must not hold it
            decays = _decays(name, param, owners[id(param)], decay_embeddings, no_decay_patterns)
            buckets["decay" if decays else "no_decay"].append((name, param))
        for kind, members in buckets.items():
            if members:
                groups.append(
                    {
                        "name": f"{unit}.{kind}",
                        "unit": unit,  # the layer group (or "head") it belongs to: the unfreezing gates read it
                        "params": [p for _, p in members],
                        "param_names": [n for n, _ in members],
                        "weight_decay": weight_decay if kind == "decay" else 0.0,
                        "lr": rates[unit],
                    }
                )
    check_partition(model, groups)
    return groups


def layer_learning_rates(
    layer_group_names: list[str], *, lr: float, layer_lr_decay: float = 1.0, head_lr_multiplier: float = 1.0
) -> dict[str, float]:
    """Initial LR per unit ('head' and each layer group, names bottom to top as `find_layer_groups` gives them)."""
    if not 0 < layer_lr_decay <= 1:
        raise ValueError(f"layer_lr_decay must be in (0, 1], got {layer_lr_decay}")
    head_lr = lr * head_lr_multiplier
    rates = {"head": head_lr}
    layers = [name for name in layer_group_names if place(name) == "layer"]
    for name in layer_group_names:
        if place(name) == "top":
            rates[name] = head_lr  # the pooler (or a final norm) feeds only the classifier: it is part of the head
        elif name == "embeddings":
            rates[name] = lr * layer_lr_decay ** (len(layers) + 1)
        else:
            rates[name] = lr * layer_lr_decay ** (len(layers) - layers.index(name))
    return rates


def check_partition(model: nn.Module, groups: list[dict]) -> None:
    """Every trainable parameter in exactly one group, nothing else in any group (compared by identity)."""
    names = {id(p): n for n, p in model.named_parameters()}
    seen: dict[int, str] = {}
    for group in groups:
        for param in group["params"]:
            if id(param) in seen:
                raise ValueError(f"{names.get(id(param), '?')} is in both {seen[id(param)]} and {group['name']}")
            if not param.requires_grad:
                raise ValueError(f"{names.get(id(param), '?')} is frozen but in group {group['name']}")
            seen[id(param)] = group["name"]
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if missing:
        raise ValueError(f"trainable parameters in no optimizer group: {', '.join(missing)}")


def param_group_table(groups: list[dict]) -> list[dict]:
    """The JSON-friendly view of the groups, for logs and results.json."""
    return [
        {"name": g["name"], "weight_decay": g["weight_decay"], "lr": g.get("initial_lr", g["lr"]),
         "params": list(g["param_names"])}
        for g in groups
    ]


def _decays(name: str, param: nn.Parameter, owner: nn.Module, decay_embeddings: bool, patterns) -> bool:
    if param.dim() < 2 or _is_norm(owner) or any(fnmatch(name, pattern) for pattern in patterns):
        return False
    if isinstance(owner, nn.Embedding):
        return decay_embeddings
    return True


def _is_norm(module: nn.Module) -> bool:
    # Custom norm classes (T5LayerNorm-style) subclass nothing shared, so the class name is the fallback.
    return isinstance(module, _NORM_TYPES) or "norm" in type(module).__name__.lower()
