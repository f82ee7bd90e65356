"""One run builder (`cola.run.build_run`) for train.py, the benchmark and the profiler: a bench row and train.py
build the same Trainer for the same options, and the builder's order (data before the model, the plan applied
before the optimizer) holds."""

import pytest
import torch

from cola.experiments import bench
from cola.recipes import parse_args
from cola.run import build_run


def _same_trainers(a, b):
    skip = {"output_dir", "logging_dir", "run_name"}
    args_a, args_b = ({k: v for k, v in t.args.to_dict().items() if k not in skip} for t in (a, b))
    assert args_a == args_b
    assert a.plan.summary() == b.plan.summary() and a.plan.layer_group_table() == b.plan.layer_group_table()
    assert torch.equal(a.class_weights, b.class_weights)
    state_a, state_b = a.model.state_dict(), b.model.state_dict()  # the same seed: the same fresh head
    assert state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert [(n, p.requires_grad) for n, p in a.model.named_parameters()] == \
        [(n, p.requires_grad) for n, p in b.model.named_parameters()]
    assert a.train_dataset[:] == b.train_dataset[:] and a.eval_dataset[:] == b.eval_dataset[:]
    drop = {"build_seconds"}
    assert {k: v for k, v in a.frozen_cache.summary().items() if k not in drop} == \
        {k: v for k, v in b.frozen_cache.summary().items() if k not in drop}
    a.create_optimizer(), b.create_optimizer()
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in a.optimizer.param_groups] == \
        [(g["name"], g["lr"], g["weight_decay"]) for g in b.optimizer.param_groups]
    assert type(a) is type(b) and [type(c) for c in a.callback_handler.callbacks][:-1] == \
        [type(c) for c in b.callback_handler.callbacks]  # the bench adds its step timer last


@pytest.mark.parametrize("name", ["suite_freeze_cached", "suite_lora_half_cached"])
def test_a_bench_row_builds_the_trainer_train_py_builds(tiny_bert_dir, data_dir, name, tmp_path):
    args = bench.build_parser().parse_args(["--model", str(tiny_bert_dir), "--data_dir", str(data_dir), "--samples", "128",
                                            "--suite_args", "--max_train_samples 48 --max_eval_samples 32"])
    row, counter, timer = bench.suite_trainer(args, "cpu", name, str(tmp_path / "row"))
    # the row's half (the embeddings and half the layers: 1 + 3 // 2 of the tiny BERT's), cached
    assert row.plan.floor == 2 and row.frozen_cache is not None
    assert (row.plan.adapters is not None) == ("lora" in name)
    users = build_run(parse_args(bench.suite_argv(args, "cpu", name, str(tmp_path / "user")))).trainer
    _same_trainers(row, users)
    assert row.data_collator is counter and counter.collate.__class__ is users.data_collator.__class__


def test_the_lora_rows_flags():
    model = "all-MiniLM-L6-v2"  # 6 layers: the half is the embeddings and 3 layers
    assert bench.row_flags("suite_lora", model) == ["--freeze", "0", "--lora_r", "8"]
    assert bench.row_flags("suite_lora_half_cached", model) == ["--freeze", "4", "--lora_r", "8", "--cache_frozen", "true"]


def test_bench_rows_are_refused_as_train_py_refuses(tiny_bert_dir, data_dir, tmp_path):
    """A row's options go through train.py's parser: its checks apply (here --freeze beyond the model's groups)."""
    import pytest

    from cola.errors import CliError

    args = bench.build_parser().parse_args(["--model", str(tiny_bert_dir), "--data_dir", str(data_dir), "--samples", "128",
                                            "--suite_args", "--max_train_samples 48 --freeze 99"])
    with pytest.raises(CliError, match="^--freeze 99 is out of range"):
        bench.suite_trainer(args, "cpu", "suite", str(tmp_path))
