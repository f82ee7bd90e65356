"""Class weights: scikit-learn's balanced weights from the training split only, explicit values, or none."""

import pytest

from cola.class_weights import class_weights_for
from cola.config import DataArguments
from cola.data import load_cola
from cola.errors import CliError


def test_balanced_weights_come_from_the_given_labels():
    assert class_weights_for([0, 0, 1, 1, 1, 1, 1, 1], enabled=True, values=None, num_labels=2) == pytest.approx([2.0, 2 / 3])
    assert class_weights_for([0, 1], enabled=False, values=None, num_labels=2) is None
    assert class_weights_for([0, 1], enabled=True, values=[0.5, 4], num_labels=2) == [0.5, 4.0]
    with pytest.raises(CliError, match=r"no examples of class\(es\) \[0\]"):
        class_weights_for([1, 1, 1], enabled=True, values=None, num_labels=2)


def test_cola_train_split_weights(data_dir):
    train = load_cola(DataArguments(data_dir=str(data_dir)), seed=0).train
    weights = class_weights_for(train["labels"], enabled=True, values=None, num_labels=2)
    assert weights == pytest.approx([8551 / (2 * 2528), 8551 / (2 * 6023)])
