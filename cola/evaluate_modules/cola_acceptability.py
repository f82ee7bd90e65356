"""An `evaluate` metric module for binary acceptability: MCC (CoLA's official metric), accuracy, F1.

It lives in the repository and is loaded by path (`evaluate.load(<this file>)`), so it works offline,
unlike `evaluate.load("glue", "cola")`. scikit-learn does the arithmetic.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

_DESCRIPTION = "Matthews correlation, accuracy, per-class and macro F1 for CoLA-style binary labels (0/1)."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (0 = unacceptable, 1 = acceptable).
    references: gold labels.
Returns:
    matthews_correlation, accuracy, f1_macro, f1_unacceptable, f1_acceptable, n, and predicted_acceptable
    (the fraction predicted acceptable: 0 or 1 means a degenerate, single-class classifier).
"""
_CITATION = """@article{warstadt2018neural, title={Neural Network Acceptability Judgments},
author={Warstadt, Alex and Singh, Amanpreet and Bowman, Samuel R}, journal={arXiv preprint arXiv:1805.12471}, year={2018}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ColaAcceptability(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        per_class = f1_score(references, predictions, labels=[0, 1], average=None, zero_division=0)
        return {
            "matthews_correlation": float(matthews_corrcoef(references, predictions)),
            "accuracy": float(accuracy_score(references, predictions)),
            "f1_macro": float(per_class.mean()),
            "f1_unacceptable": float(per_class[0]),
            "f1_acceptable": float(per_class[1]),
            "n": len(references),
            "predicted_acceptable": float(sum(int(p) == 1 for p in predictions) / max(len(predictions), 1)),
        }
