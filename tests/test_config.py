"""`cola.config`: every option once, with its checks; what a run reads from."""

import pytest

from cola.errors import CliError
from cola.recipes import parse_args


@pytest.mark.parametrize("flags, message", [
    (["--learning_rate", "0"], "learning_rate must be a positive number"),
    (["--per_device_train_batch_size", "0"], "per_device_train_batch_size must be 1 or more"),
    (["--label_smoothing_factor", "1"], "label_smoothing_factor must be in [0, 1)"),
    (["--seed", "-1"], "seeds must be between 0 and"),
    (["--overwrite_run", "--resume_from_checkpoint", "last"], "--overwrite_run deletes the checkpoints"),
    (["--bf16", "--fp16"], "--bf16 and --fp16 contradict each other"),
])
def test_range_checks_are_one_line(flags, message):
    with pytest.raises(CliError, match="^" + message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        parse_args(flags)


def test_read_folders_name_what_the_run_reads(tmp_path):
    config = parse_args(["--model_name_or_path", str(tmp_path / "m"), "--train_file", str(tmp_path / "d" / "t.csv"),
                         "--validation_file", str(tmp_path / "v.csv")])
    assert config.read_folders() == {"the base model": str(tmp_path / "m"), "the CoLA data": None,
                                     "--train_file": str(tmp_path / "d"), "--validation_file": str(tmp_path)}
