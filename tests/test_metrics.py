"""The repository's evaluate module and the per-domain split of compute_metrics."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef
from transformers import EvalPrediction

from cola.cola_tsv import CLASS_NAMES, DOMAINS
from cola.metrics import build_compute_metrics, load_metric


def test_metric_module_loads_by_path_and_matches_sklearn():
    rng = np.random.default_rng(0)
    refs, preds = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    scores = load_metric().compute(predictions=preds, references=refs, class_names=CLASS_NAMES)
    assert scores["matthews_correlation"] == pytest.approx(matthews_corrcoef(refs, preds))
    assert scores["accuracy"] == pytest.approx((refs == preds).mean())
    assert scores["f1_macro"] == pytest.approx(f1_score(refs, preds, average="macro"))
    assert scores["f1_acceptable"] == pytest.approx(f1_score(refs, preds, pos_label=1))
    assert scores["f1_unacceptable"] == pytest.approx(f1_score(refs, preds, pos_label=0))
    assert scores["n"] == 200
    assert scores["predicted_acceptable"] == pytest.approx(preds.mean())


def test_single_class_predictions_give_mcc_zero():
    scores = load_metric().compute(predictions=[1, 1, 1, 1], references=[0, 1, 1, 0])
    assert scores["matthews_correlation"] == 0.0 and scores["f1_unacceptable"] == 0.0
    assert scores["predicted_acceptable"] == 1.0


def test_per_domain_metrics_follow_the_domain_column_not_the_order():
    compute = build_compute_metrics(CLASS_NAMES, DOMAINS)
    logits = np.array([[2.0, 0], [0, 2], [0, 1], [1, 0], [0, 3], [3, 0]])
    labels, domains = np.array([0, 1, 0, 0, 1, 1]), np.array([1, 0, 1, 0, 0, 1])
    scores = compute(EvalPrediction(predictions=logits, label_ids=(labels, domains)))
    assert scores["n"] == 6 and scores["in_domain_n"] == 3 and scores["out_of_domain_n"] == 3
    assert scores["in_domain_accuracy"] == pytest.approx(1.0)  # rows 1, 3, 4
    assert scores["out_of_domain_accuracy"] == pytest.approx(1 / 3)  # rows 0, 2, 5
    expected_loss = np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0)), np.log1p(np.exp(-3.0))])
    assert scores["in_domain_cross_entropy"] == pytest.approx(expected_loss)
    assert scores["cross_entropy"] == pytest.approx(_ce(logits, labels))
    shuffled = compute(EvalPrediction(predictions=logits[::-1], label_ids=(labels[::-1], domains[::-1])))
    assert shuffled == pytest.approx(scores)


def _ce(logits, labels):
    z = logits - logits.max(-1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(-1)) - z[np.arange(len(labels)), labels]))


def test_one_domain_gives_no_domain_keys():
    scores = build_compute_metrics(CLASS_NAMES, DOMAINS)(EvalPrediction(predictions=np.array([[1.0, 0], [0, 1]]),
                                                    label_ids=(np.array([0, 1]), np.array([0, 0]))))
    assert not any(k.startswith(("in_domain", "out_of_domain")) for k in scores)


def test_metric_for_best_model_is_checked_against_what_evaluation_reports():
    from cola.errors import CliError
    from cola.metrics import check_metric_for_best_model

    compute = build_compute_metrics(CLASS_NAMES, DOMAINS)
    both, in_domain_only = np.array([0, 0, 1, 1]), np.array([0, 0, 0])
    for name in ("matthews_correlation", "eval_in_domain_matthews_correlation", "out_of_domain_accuracy", "loss"):
        check_metric_for_best_model(name, compute, both, num_labels=2)
    check_metric_for_best_model("accuracy", compute, in_domain_only, num_labels=2)
    reported = r"'in_domain_matthews_correlation' is not reported .*: loss, matthews_correlation, accuracy"
    with pytest.raises(CliError, match=reported):
        check_metric_for_best_model("in_domain_matthews_correlation", compute, in_domain_only, num_labels=2)
    with pytest.raises(CliError, match=r"'mcc' is not reported .* in_domain_matthews_correlation"):
        check_metric_for_best_model("mcc", compute, both, num_labels=2)


def test_k_classes_and_names_that_would_clash():
    from cola.errors import CliError

    compute = build_compute_metrics(("billing", "login", "shipping"), ("all",))
    logits = np.eye(3)[[0, 1, 2, 2]]
    scores = compute(EvalPrediction(predictions=logits, label_ids=(np.array([0, 1, 2, 1]), np.zeros(4, dtype=int))))
    assert scores["accuracy"] == 0.75 and scores["f1_shipping"] == pytest.approx(2 / 3)
    assert scores["predicted_shipping"] == 0.5 and scores["n"] == 4
    assert scores["matthews_correlation"] == pytest.approx(matthews_corrcoef([0, 1, 2, 1], [0, 1, 2, 2]))
    with pytest.raises(CliError, match=r"make two metrics share a name"):
        build_compute_metrics(("macro", "micro"), ("all",))
    clash = build_compute_metrics(("n", "y"), ("all", "f1"))  # group f1's count 'f1_n' = class n's F1 'f1_n'
    with pytest.raises(CliError, match=r"^group 'f1' and the metric names clash at 'f1_n'"):
        clash(EvalPrediction(predictions=np.eye(2)[[0, 1]], label_ids=(np.array([0, 1]), np.array([0, 1]))))
