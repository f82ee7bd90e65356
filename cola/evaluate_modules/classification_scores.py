"""An `evaluate` metric module for single-label classification with k classes: MCC (CoLA's official metric, and
its multi-class form), accuracy, macro and per-class F1, and the share of predictions in each class.

It lives in the repository and is loaded by path (`evaluate.load(<this file>)`), so it works offline,
unlike `evaluate.load("glue", "cola")`. scikit-learn does the arithmetic.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

_DESCRIPTION = "Matthews correlation, accuracy, per-class and macro F1 and predicted-class shares for k classes."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids (0..k-1).
    references: gold class ids.
    class_names: the k class names in id order (default: CoLA's, unacceptable and acceptable).
Returns:
    matthews_correlation (multi-class for k > 2), accuracy, f1_macro (over all k classes), f1_<name> per class, n,
    and predicted_<name> per class: the fraction predicted as that class (1 means a degenerate, single-class
    classifier).
"""
_CITATION = """@article{warstadt2018neural, title={Neural Network Acceptability Judgments},
author={Warstadt, Alex and Singh, Amanpreet and Bowman, Samuel R}, journal={arXiv preprint arXiv:1805.12471}, year={2018}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ClassificationScores(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, class_names=("unacceptable", "acceptable")):
        ids = list(range(len(class_names)))
        per_class = f1_score(references, predictions, labels=ids, average=None, zero_division=0)
        n = len(references)
        scores = {
            "matthews_correlation": float(matthews_corrcoef(references, predictions)),
            "accuracy": float(accuracy_score(references, predictions)),
            "f1_macro": float(per_class.mean()),
        }
        scores.update({f"f1_{name}": float(f1) for name, f1 in zip(class_names, per_class)})
        scores["n"] = n
        predicted = [int(p) for p in predictions]
        scores.update({f"predicted_{name}": predicted.count(i) / max(n, 1) for i, name in enumerate(class_names)})
        return scores
