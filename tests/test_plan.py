"""The plan of what trains (`cola.plan`): built once from the options and the layer groups; exact states for every
way of freezing, the cache decision, lr0's groups, the eval-mode modules, and the floor a resumed run adopts."""

from pathlib import Path

import pytest
from conftest import ARCHITECTURES, tiny_model, training_args

from cola.errors import CliError
from cola.freezing import find_layer_groups
from cola.plan import adopt_checkpoint_floor, plan_from


def _plan(arch="bert", **options):
    model = tiny_model(arch, layers=3)
    return model, plan_from(training_args(Path("/tmp/unused"), **options), find_layer_groups(model))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_apply_freezes_exactly_the_floor(arch):
    model, plan = _plan(arch, freeze=2)
    plan.apply()
    groups = find_layer_groups(model)
    assert [g.frozen for g in groups] == [i < 2 for i in range(len(groups))]
    assert [row["frozen"] for row in plan.layer_group_table()] == [i < 2 for i in range(len(groups))]
    assert plan.summary() == {"frozen_groups": ["embeddings", "layer_00"], "layer_groups": len(groups),
                              "method": "requires_grad", "frozen_eval_mode": True, "unfreeze_every": None,
                              "progressive": None}
    assert plan.why_not_cached() is None and plan.zero_lr_units() == frozenset()
    # the eval-mode modules are the frozen groups' outermost modules, and nothing of the trainable rest
    frozen_ids = {id(p) for g in groups[:2] for _, p in g.parameters}
    modules = plan.eval_mode_modules(model)
    assert modules and {id(p) for m in modules for p in m.parameters()} == frozen_ids


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_rising_floor_starts_where_freeze_says_and_rises_at_most_to_below_the_top_layer(arch):
    model, plan = _plan(arch, freeze=1, progressive_freeze="auto")
    groups = find_layer_groups(model)
    layers = sum(g.name.startswith("layer_") for g in groups)
    assert plan.floor == 1 and plan.progressive.most == layers  # embeddings + every layer but the top one
    assert plan.summary()["progressive"] == {"mode": "auto", "max_frozen_groups": layers, "every": None, "start": None,
                                             "percentile": 50.0, "tolerance": None}
    _, nothing_yet = _plan(arch, progressive_freeze="linear")
    assert nothing_yet.why_not_cached() is None  # the cache is made for the floor to come
    assert nothing_yet.summary()["progressive"]["percentile"] is None  # a linear floor reads no statistic


def test_layer_group_table_counts_parameters():
    model, plan = _plan(freeze=0)
    table = plan.layer_group_table()
    assert table[0] == {"name": "embeddings", "params": (30522 + 128 + 2) * 32 + 2 * 32, "frozen": False}
    assert table[-1] == {"name": "pooler", "params": 32 * 32 + 32, "frozen": False}
    assert sum(r["params"] for r in table) + 32 * 2 + 2 == sum(p.numel() for p in model.parameters())


def test_lr0_keeps_every_group_trainable_but_reports_the_floor_frozen():
    model, plan = _plan(freeze=2, freeze_method="lr0")
    plan.apply()
    assert all(not g.frozen for g in plan.groups)  # the optimizer holds them still, at learning rate 0
    assert plan.zero_lr_units() == frozenset({"embeddings", "layer_00"})
    assert [row["frozen"] for row in plan.layer_group_table()][:3] == [True, True, False]  # not "nothing frozen"
    assert plan.why_not_cached() == "--freeze_method lr0 keeps the frozen groups in the backward pass"


@pytest.mark.parametrize("options, reason", [
    ({"freeze": 0}, "nothing is frozen"),
    ({"freeze": 2, "cache_frozen": False}, "--cache_frozen false"),
    ({"freeze": 2, "frozen_eval_mode": False}, "--no-frozen-eval-mode: dropout in the frozen groups changes"),
])
def test_why_not_cached(options, reason):
    model, plan = _plan(**options)
    plan.apply()
    assert plan.why_not_cached().startswith(reason)
    assert plan.eval_mode_modules(model) == [] or options.get("frozen_eval_mode", True)


def test_unfreezing_stops_at_the_floor():
    _, plan = _plan(freeze=2, gradual_unfreeze_steps=5)
    assert plan.unfreeze_schedule() == {"head": 0, "pooler": 5, "layer_02": 10, "layer_01": 15, "layer_00": None,
                                        "embeddings": None}
    assert _plan(freeze=2)[1].unfreeze_schedule() is None


def test_an_out_of_range_floor_is_one_line():
    with pytest.raises(CliError, match=r"^--freeze 9 is out of range: this model has 5 layer groups \(embeddings, "
                                       r"layer_00, layer_01, layer_02, pooler\); use 0\.\.5$"):
        _plan(freeze=9)


def test_a_resumed_run_adopts_the_checkpoints_floor():
    args = training_args(Path("/tmp/unused"), freeze=0)
    adopt_checkpoint_floor(args, 2, given=False, checkpoint="ckpt")
    assert args.freeze == 2
    adopt_checkpoint_floor(args, None, given=False, checkpoint="ckpt")  # an older checkpoint: as given
    assert args.freeze == 2
    with pytest.raises(CliError, match="^ckpt was trained with --freeze 3; resuming with --freeze 2"):
        adopt_checkpoint_floor(args, 3, given=True, checkpoint="ckpt")
