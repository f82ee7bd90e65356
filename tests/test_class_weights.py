"""Class weights: scikit-learn's balanced weights from the training split only, explicit values, or none."""

import pytest

from cola.class_weights import class_weights_for
from cola.config import DataArguments
from cola.data import load_data
from cola.errors import CliError


def test_balanced_weights_come_from_the_given_labels():
    assert class_weights_for([0, 0, 1, 1, 1, 1, 1, 1], enabled=True, values=None, num_labels=2) == pytest.approx([2.0, 2 / 3])
    assert class_weights_for([0, 1], enabled=False, values=None, num_labels=2) is None
    assert class_weights_for([0, 1], enabled=True, values=[0.5, 4], num_labels=2) == [0.5, 4.0]
    with pytest.raises(CliError, match=r"no examples of class\(es\) \[0\]"):
        class_weights_for([1, 1, 1], enabled=True, values=None, num_labels=2)


def test_k_classes_get_balanced_weights_and_explicit_ones_must_match_k():
    assert class_weights_for([0, 1, 1, 2, 2, 2], enabled=True, values=None, num_labels=3) == pytest.approx([2.0, 1.0, 2 / 3])
    with pytest.raises(CliError, match=r"^--class_weight_values gives 2 weight\(s\) for 3 classes; give one per class$"):
        class_weights_for([0, 1, 2], enabled=True, values=[1.0, 2.0], num_labels=3)


def test_cola_train_split_weights(data_dir):
    train = load_data(DataArguments(data_dir=str(data_dir)), seed=0).train
    weights = class_weights_for(train["labels"], enabled=True, values=None, num_labels=2)
    assert weights == pytest.approx([8551 / (2 * 2528), 8551 / (2 * 6023)])
