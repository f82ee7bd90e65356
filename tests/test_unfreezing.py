"""Gradual unfreezing: the schedule, the learning rate of every group at every step, which weights move when
(through the CLI), and a resume in the middle of the schedule."""

import json
import shutil

import pytest
import torch
from conftest import LABELS, SENTENCES, make_trainer, tiny_dataset, tiny_model, training_args
from safetensors.torch import load_file

import train
from cola.unfreezing import unfreeze_schedule


def test_schedule_is_top_down_and_respects_the_floor():
    names = ["embeddings", "layer_00", "layer_01", "pooler"]
    assert unfreeze_schedule(names, every=3) == {"head": 0, "pooler": 3, "layer_01": 6, "layer_00": 9, "embeddings": 12}
    assert unfreeze_schedule(names, every=3, floor=2) == {
        "head": 0, "pooler": 3, "layer_01": 6, "layer_00": None, "embeddings": None}


def _trainer(tmp_path, tokenizer, **overrides):
    model = tiny_model("bert", layers=2)
    args = training_args(tmp_path, learning_rate=1e-3, layer_lr_decay=0.5, gradual_unfreeze_steps=2, freeze=1, **overrides)
    trainer = make_trainer(model, args, tokenizer, tiny_dataset(tokenizer, SENTENCES, LABELS))
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    return trainer


def _rates(trainer):
    return {g["name"]: g["lr"] for g in trainer.optimizer.param_groups}


def test_each_group_gets_its_decayed_rate_once_its_turn_comes(tmp_path, tokenizer):
    # 2 layers, d = 0.5, floor 1 (embeddings frozen): head and pooler 1e-3, layer_01 5e-4, layer_00 2.5e-4.
    # Turns: head at once, pooler after 2 steps, layer_01 after 4, layer_00 after 6.
    trainer = _trainer(tmp_path, tokenizer, lr_scheduler_type="constant", warmup_steps=0)
    peak = {"head": 1e-3, "pooler": 1e-3, "layer_01": 5e-4, "layer_00": 2.5e-4}
    turn = {"head": 0, "pooler": 2, "layer_01": 4, "layer_00": 6}
    assert {g["name"]: g["initial_lr"] for g in trainer.optimizer.param_groups} == {
        f"{unit}.{kind}": rate for unit, rate in peak.items() for kind in ("decay", "no_decay")}
    for step in range(9):
        expected = {f"{u}.{k}": (peak[u] if step >= turn[u] else 0.0) for u in peak for k in ("decay", "no_decay")}
        assert _rates(trainer) == pytest.approx(expected, abs=0), f"step {step}"
        trainer.optimizer.step()
        trainer.lr_scheduler.step()


def test_gates_multiply_the_base_schedule(tmp_path, tokenizer):
    # linear warm-up over 2 steps then linear decay to 0 at step 10; layer_01 joins after 4 steps
    trainer = _trainer(tmp_path, tokenizer, lr_scheduler_type="linear", warmup_steps=2)
    seen = []
    for _ in range(10):
        seen.append((_rates(trainer)["head.decay"], _rates(trainer)["layer_01.decay"]))
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    base = [0, 0.5, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8]
    assert [h for h, _ in seen] == pytest.approx([1e-3 * b for b in base])
    assert [layer for _, layer in seen] == pytest.approx([0, 0, 0, 0] + [5e-4 * b for b in base[4:]])


def test_plateau_schedule_is_refused():
    from cola.errors import CliError
    from cola.unfreezing import gate_scheduler

    optimizer = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "name": "head.decay"}], lr=0.1)
    with pytest.raises(CliError, match="needs a step-based schedule"):
        gate_scheduler(torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer), {"head": 0})


# --- through the CLI: 3 layers, floor 1, a group every 2 steps, a checkpoint after every step ---

TURNS = {"classifier.": 0, "bert.pooler.": 2, "bert.encoder.layer.2.": 4, "bert.encoder.layer.1.": 6,
         "bert.encoder.layer.0.": 8, "bert.embeddings.": None}


def _argv(model_dir, data_dir, out):
    return ["--model_name_or_path", str(model_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "64", "--max_eval_samples", "32", "--max_steps", "9",
            "--per_device_train_batch_size", "8", "--learning_rate", "1e-3", "--warmup_steps", "0",
            "--freeze", "1", "--gradual_unfreeze_steps", "2", "--layer_lr_decay", "0.8",
            "--eval_strategy", "no", "--save_strategy", "steps", "--save_steps", "1", "--save_total_limit", "20",
            "--load_best_model_at_end", "false", "--seed", "5"]


@pytest.fixture(scope="module")
def gradual_run(tmp_path_factory, tiny_bert_dir, data_dir):
    root = tmp_path_factory.mktemp("gradual")
    assert train.main(_argv(tiny_bert_dir, data_dir, root / "whole")) == 0
    # Interrupted after 3 steps (pooler training, layer_02 still waiting); resumed from its checkpoint.
    (root / "resumed").mkdir()
    shutil.copytree(root / "whole" / "checkpoint-3", root / "resumed" / "checkpoint-3")
    assert train.main(_argv(tiny_bert_dir, data_dir, root / "resumed") + ["--resume_from_checkpoint", "last"]) == 0
    return root


def test_groups_move_only_from_their_turn_on(gradual_run, tiny_bert_dir):
    initial = load_file(tiny_bert_dir / "model.safetensors")
    checkpoints = {step: load_file(gradual_run / "whole" / f"checkpoint-{step}" / "model.safetensors") for step in range(1, 10)}
    for prefix, turn in TURNS.items():
        names = [n for n in initial if n.startswith(prefix)]
        assert names, prefix
        for step, weights in checkpoints.items():
            unchanged = all(torch.equal(weights[n], initial[n]) for n in names)
            # after `step` optimizer steps a group has trained iff its turn came before the last of them
            assert unchanged == (turn is None or step <= turn), f"{prefix} after {step} steps"


def test_results_record_the_schedule_and_rates(gradual_run):
    results = json.loads((gradual_run / "whole" / "results.json").read_text())
    assert results["unfreeze_after_steps"] == {"head": 0, "pooler": 2, "layer_02": 4, "layer_01": 6, "layer_00": 8,
                                               "embeddings": None}
    rates = {g["name"].split(".")[0]: g["lr"] for g in results["param_groups"]}
    assert rates == pytest.approx({"head": 1e-3, "pooler": 1e-3, "layer_02": 8e-4, "layer_01": 6.4e-4, "layer_00": 5.12e-4})


def test_resume_in_the_middle_of_the_schedule_is_bit_identical(gradual_run):
    whole = load_file(gradual_run / "whole" / "model.safetensors")
    resumed = load_file(gradual_run / "resumed" / "model.safetensors")
    assert [n for n in whole if not torch.equal(whole[n], resumed[n])] == []
