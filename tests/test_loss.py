"""The class-weighted loss: exact values, and the same loss and update under gradient accumulation."""

import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import LABELS, SENTENCES, make_trainer, tiny_dataset, tiny_model, training_args
from transformers import DataCollatorWithPadding

from cola.loss import example_weights, step_loss


def _expected_loss(model, tokenizer, weights, smoothing=0.0):
    enc = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model.eval()(**enc).logits
    labels = torch.tensor(LABELS)
    # Label smoothing by hand: the target puts 1 - s on the label and s/2 on each of the two classes.
    target = F.one_hot(labels, 2).float() * (1 - smoothing) + smoothing / 2
    losses = -(target * F.log_softmax(logits, dim=-1)).sum(-1)
    w = torch.ones(len(LABELS)) if weights is None else torch.tensor(weights)[labels]
    whole = (losses * w).sum() / w.sum()
    halves = [(losses[s] * w[s]).sum() / w[s].sum() for s in (slice(0, 8), slice(8, 16))]
    return whole.item(), (sum(halves) / 2).item()


def _one_step(model, tokenizer, tmp_path, weights, batch, accumulation):
    args = training_args(
        tmp_path / f"{batch}x{accumulation}", max_steps=1, per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation, optim="sgd", learning_rate=0.5, lr_scheduler_type="constant",
        warmup_steps=0, weight_decay=0.0, max_grad_norm=0.0, train_sampling_strategy="sequential",
    )
    trainer = make_trainer(model, args, tokenizer, tiny_dataset(tokenizer, SENTENCES, LABELS), class_weights=weights)
    trainer.train()
    return trainer.state.log_history[0]["loss"], {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("weights", [None, [3.0, 0.5]], ids=["unweighted", "weighted"])
def test_accumulation_gives_the_same_loss_and_update(weights, tmp_path, tokenizer):
    base = tiny_model("bert", layers=2, dropout=0.0)
    with torch.no_grad():  # confident, varied predictions, so per-example losses differ a lot
        base.classifier.weight.mul_(40)
    expected, naive = _expected_loss(copy.deepcopy(base), tokenizer, weights)
    if weights is not None:
        assert abs(expected - naive) > 0.01  # the test can tell the right normalisation from the naive one

    loss_16x1, params_16x1 = _one_step(copy.deepcopy(base), tokenizer, tmp_path, weights, batch=16, accumulation=1)
    loss_8x2, params_8x2 = _one_step(copy.deepcopy(base), tokenizer, tmp_path, weights, batch=8, accumulation=2)

    assert loss_16x1 == pytest.approx(expected, abs=1e-5)
    assert loss_8x2 == pytest.approx(expected, abs=1e-5)
    start = dict(base.named_parameters())
    for name, value in params_16x1.items():
        assert not torch.equal(value, start[name]) or "token_type" in name or "position" in name
        torch.testing.assert_close(params_8x2[name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_weights_change_the_training_loss_but_not_the_eval_loss(tmp_path, tokenizer):
    model = tiny_model("bert", layers=2, dropout=0.0)
    dataset = tiny_dataset(tokenizer, SENTENCES, LABELS)
    trainer = make_trainer(model, training_args(tmp_path), tokenizer, dataset, class_weights=[3.0, 0.5])
    batch = trainer._prepare_inputs(DataCollatorWithPadding(tokenizer)([dataset[i] for i in range(16)]))
    plain = _expected_loss(copy.deepcopy(model), tokenizer, None)[0]
    weighted = _expected_loss(copy.deepcopy(model), tokenizer, [3.0, 0.5])[0]
    model.train()
    assert trainer.compute_loss(model, dict(batch)).item() == pytest.approx(weighted, abs=1e-5)
    model.eval()
    assert trainer.compute_loss(model, dict(batch)).item() == pytest.approx(plain, abs=1e-5)


@pytest.mark.parametrize("weights", [None, [3.0, 0.5]], ids=["unweighted", "weighted"])
def test_label_smoothing_applies_to_the_training_loss_only(weights, tmp_path, tokenizer):
    # The suite's compute_loss replaces the Trainer's, whose label smoother would never run: without the
    # smoothing in compute_loss, --label_smoothing_factor was silently ignored.
    model = tiny_model("bert", layers=2, dropout=0.0)
    with torch.no_grad():  # confident predictions, so smoothing moves the loss a lot
        model.classifier.weight.mul_(1000)
    dataset = tiny_dataset(tokenizer, SENTENCES, LABELS)
    trainer = make_trainer(model, training_args(tmp_path, label_smoothing_factor=0.2), tokenizer, dataset,
                           class_weights=weights)
    batch = trainer._prepare_inputs(DataCollatorWithPadding(tokenizer)([dataset[i] for i in range(16)]))
    smoothed = _expected_loss(copy.deepcopy(model), tokenizer, weights, smoothing=0.2)[0]
    plain = _expected_loss(copy.deepcopy(model), tokenizer, None)[0]
    assert abs(smoothed - _expected_loss(copy.deepcopy(model), tokenizer, weights)[0]) > 0.05
    model.train()
    assert trainer.compute_loss(model, dict(batch)).item() == pytest.approx(smoothed, abs=1e-5)
    model.eval()
    assert trainer.compute_loss(model, dict(batch)).item() == pytest.approx(plain, abs=1e-5)


def test_micro_batch_shares_add_up_to_the_weighted_mean_of_the_step():
    torch.manual_seed(0)
    logits, labels, weights = torch.randn(16, 2), torch.tensor(LABELS), torch.tensor([3.0, 0.5])
    by_hand = (F.cross_entropy(logits, labels, reduction="none") * weights[labels]).sum() / weights[labels].sum()
    assert step_loss(logits, labels, class_weights=weights).item() == pytest.approx(by_hand.item(), abs=1e-6)
    step_weight = example_weights(labels, weights).sum()
    halves = (slice(0, 8), slice(8, 16))
    shares = [step_loss(logits[s], labels[s], class_weights=weights, step_weight=step_weight) for s in halves]
    assert sum(shares).item() == pytest.approx(by_hand.item(), abs=1e-6)
    # Under DDP each process's share is scaled back up by the process count: DDP averages the gradients.
    doubled = step_loss(logits[:8], labels[:8], class_weights=weights, step_weight=step_weight, num_processes=2)
    assert doubled.item() == pytest.approx(2 * shares[0].item(), abs=1e-6)
    assert example_weights(labels, None).tolist() == [1.0] * 16
