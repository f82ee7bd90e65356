"""The Trainer subclass's fast path changes speed, not results: length grouping, bf16 steps, eval batch size.

(The loss itself is tested in test_loss.py, the optimizer groups in test_param_groups.py.)"""

import copy
from collections import Counter

import pytest
import torch
from conftest import LABELS, SENTENCES, make_trainer, tiny_dataset, tiny_model, training_args

from cola.recipes import parse_args


def _padding_and_rows(data_dir, tokenizer, strategy):
    from cola.config import DataArguments
    from cola.data import load_data, tokenize

    train = tokenize(load_data(DataArguments(data_dir=str(data_dir)), seed=0), tokenizer, 64).train
    args = parse_args(["--output_dir", "/tmp/unused", "--train_sampling_strategy", strategy, "--eval_strategy", "no",
                       "--load_best_model_at_end", "false", "--per_device_train_batch_size", "32"]).training
    trainer = make_trainer(tiny_model("bert", layers=1), args, tokenizer, train)
    useful = total = 0
    rows = Counter()
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        useful, total = useful + int(mask.sum()), total + mask.numel()
        rows.update(tuple(ids[m.bool()].tolist()) for ids, m in zip(batch["input_ids"], mask))
    return 1 - useful / total, rows, Counter(tuple(ids) for ids in train["input_ids"])


def test_length_grouping_sees_every_sentence_once_with_little_padding(data_dir, tokenizer):
    grouped, rows, expected = _padding_and_rows(data_dir, tokenizer, "group_by_length")
    random_padding, random_rows, _ = _padding_and_rows(data_dir, tokenizer, "random")
    assert rows == expected == random_rows  # an epoch is the same multiset of sentences either way
    assert grouped < 0.15 < random_padding


def test_length_grouped_order_comes_from_the_seed_and_the_epoch_alone(tmp_path, tokenizer):
    """Not from the global RNG, whose state when an epoch starts a resumed run cannot restore: the same seed and
    epoch give the same order whatever was drawn before; another epoch or seed another order."""
    trainer = make_trainer(tiny_model("bert", layers=2), training_args(tmp_path, seed=5, per_device_train_batch_size=4),
                           tokenizer, tiny_dataset(tokenizer, SENTENCES * 4, LABELS * 4))

    def order(seed_sampler_with, epoch, draws_before=0):
        torch.rand(draws_before)  # what dropout drew before this epoch started
        trainer.args.seed = seed_sampler_with
        sampler = trainer._get_train_sampler()
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(5, 1) == order(5, 1, draws_before=1000)
    assert order(5, 1) != order(5, 2) and order(5, 1) != order(6, 1)
    assert sorted(order(5, 3)) == list(range(len(SENTENCES) * 4))


def _one_step(precision, tmp_path, tokenizer):
    model = tiny_model("bert", layers=2, dropout=0.0)
    args = training_args(tmp_path / precision, max_steps=1, per_device_train_batch_size=16, optim="sgd",
                         learning_rate=0.5, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=0.0,
                         train_sampling_strategy="sequential", precision=precision)
    trainer = make_trainer(model, args, tokenizer, tiny_dataset(tokenizer, SENTENCES, LABELS), class_weights=[3.0, 0.5])
    trainer.train()
    return trainer.state.log_history[0]["loss"], {n: p.detach().clone() for n, p in model.named_parameters()}


def test_bf16_gives_the_fp32_result_within_tolerance(tmp_path, tokenizer):
    loss32, weights32 = _one_step("fp32", tmp_path, tokenizer)
    loss16, weights16 = _one_step("bf16", tmp_path, tokenizer)
    assert loss16 == pytest.approx(loss32, rel=2e-2)
    start = dict(tiny_model("bert", layers=2, dropout=0.0).named_parameters())
    for name, value in weights32.items():
        delta32, delta16 = value - start[name].detach(), weights16[name] - start[name].detach()
        if delta32.abs().max() > 1e-4:  # the update itself agrees, not just the starting point
            assert torch.nn.functional.cosine_similarity(delta32.flatten(), delta16.flatten(), dim=0) > 0.97, name


def test_eval_batch_size_does_not_change_metrics(tmp_path, tokenizer):

    model = tiny_model("bert", layers=2)
    dataset = tiny_dataset(tokenizer, SENTENCES, LABELS, domains=[0, 1] * 8)
    results = []
    for batch in (3, 128):
        trainer = make_trainer(copy.deepcopy(model), training_args(tmp_path, per_device_eval_batch_size=batch), tokenizer,
                               dataset)
        results.append(trainer.evaluate())
    for key in ("eval_matthews_correlation", "eval_accuracy", "eval_in_domain_accuracy", "eval_cross_entropy"):
        assert results[0][key] == pytest.approx(results[1][key], abs=1e-5), key
