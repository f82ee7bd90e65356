"""Checkpoints and resuming (`cola.checkpoints`): bit-exact resume with freezing and class weights, the stored
freeze setting, seeded repeats, early stopping.

On a tiny random BERT with dropout on (its RNG state is part of what a resume must restore): exactness does not
depend on the model's size, and the packaged model made this module the slowest of the suite."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

import train

OPTIONS = ["--max_train_samples", "96", "--max_eval_samples", "64",
          "--max_steps", "6", "--per_device_train_batch_size", "16", "--eval_strategy", "no", "--save_strategy", "steps",
          "--save_steps", "3", "--save_total_limit", "5", "--load_best_model_at_end", "false",
          "--train_sampling_strategy", "group_by_length", "--seed", "3"]


@pytest.fixture(scope="module")
def model_dir(tiny_bert_dropout_dir):
    return tiny_bert_dropout_dir


@pytest.fixture(scope="module")
def common(model_dir):
    return ["--model_name_or_path", str(model_dir), *OPTIONS]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir, common):
    root = tmp_path_factory.mktemp("resume")
    argv = common + ["--data_dir", str(data_dir), "--freeze", "2"]
    assert train.main(argv + ["--output_dir", str(root / "whole")]) == 0
    assert train.main(argv + ["--output_dir", str(root / "again")]) == 0
    # The interrupted run: only its step-3 checkpoint exists; resume it without repeating --freeze.
    (root / "resumed").mkdir()
    (root / "whole" / "checkpoint-3").rename(root / "resumed" / "checkpoint-3")
    resumed_argv = [a for a in argv if a not in ("--freeze", "2")]
    assert train.main(resumed_argv + ["--output_dir", str(root / "resumed"), "--resume_from_checkpoint", "last"]) == 0
    return root


def _weights(folder):
    return load_file(folder / "model.safetensors")


def test_same_seed_is_bit_identical(runs):
    a, b = _weights(runs / "whole"), _weights(runs / "again")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resumed_run_is_bit_identical_to_the_whole_run(runs):
    whole, resumed = _weights(runs / "whole"), _weights(runs / "resumed")
    assert [k for k in whole if not torch.equal(whole[k], resumed[k])] == []
    r_whole = json.loads((runs / "whole" / "results.json").read_text())
    r_resumed = json.loads((runs / "resumed" / "results.json").read_text())
    for key in ("matthews_correlation", "accuracy", "loss"):
        assert r_resumed["eval"][key] == r_whole["eval"][key]
    assert r_resumed["class_weights"] == r_whole["class_weights"]
    # --freeze 2: both cached the frozen layers (the resumed run rebuilt its cache) and still agree bit for bit
    assert r_whole["frozen_cache"]["used"] and r_resumed["frozen_cache"]["used"]


def test_freeze_is_stored_and_reapplied(runs):
    stored = json.loads((runs / "resumed" / "checkpoint-3" / "cola_suite.json").read_text())
    assert stored["config"]["freeze"] == 2 and "freeze" not in stored  # the floor is kept once, in the configuration
    assert [g["frozen"] for g in stored["layer_groups"]][:3] == [True, True, False]
    resumed = json.loads((runs / "resumed" / "results.json").read_text())
    assert resumed["config"]["freeze"] == 2  # taken from the checkpoint, not the default 0
    assert [g["frozen"] for g in resumed["layer_groups"]][:3] == [True, True, False]


def test_resuming_with_another_freeze_is_a_clear_error(runs, data_dir, tmp_path, capsys, common):
    out = _copy_checkpoint(runs, tmp_path)
    argv = common + ["--data_dir", str(data_dir), "--output_dir", str(out), "--freeze", "4",
                     "--resume_from_checkpoint", str(out / "checkpoint-3")]
    assert train.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {out / 'checkpoint-3'} was trained with --freeze 2; resuming with --freeze 4 "
                   "would hand the optimizer different parameters. Pass --freeze 2 or leave --freeze out")


def test_resume_last_without_checkpoints(tmp_path, data_dir, capsys, common):
    argv = common + ["--data_dir", str(data_dir), "--output_dir", str(tmp_path), "--resume_from_checkpoint", "last"]
    assert train.main(argv) == 2
    assert capsys.readouterr().err.strip() == f"error: --resume_from_checkpoint last: no checkpoint-* folder in {tmp_path}"
    assert train.main(common + ["--data_dir", str(data_dir), "--output_dir", str(tmp_path),
                                "--resume_from_checkpoint", str(tmp_path / "nope")]) == 2
    assert "not a checkpoint folder" in capsys.readouterr().err


def test_early_stopping_on_mcc(tmp_path, data_dir, model_dir):
    argv = ["--model_name_or_path", str(model_dir), "--data_dir", str(data_dir), "--output_dir", str(tmp_path),
            "--max_train_samples", "64", "--max_eval_samples", "32", "--max_steps", "40", "--per_device_train_batch_size", "16",
            "--learning_rate", "1e-7", "--eval_strategy", "steps", "--eval_steps", "1", "--save_strategy", "steps",
            "--save_steps", "1", "--save_total_limit", "40", "--early_stopping_patience", "2"]  # every state kept
    assert train.main(argv) == 0
    steps = json.loads((tmp_path / "results.json").read_text())["train"]["steps"]
    history = json.loads((tmp_path / f"checkpoint-{steps}" / "trainer_state.json").read_text())["log_history"]
    evaluations = [(e["step"], e["eval_matthews_correlation"]) for e in history if "eval_matthews_correlation" in e]
    # Patience 2: training ends at the second evaluation in a row that does not beat the best before it.
    best, misses, expected_stop = None, 0, None
    for step, mcc in evaluations:
        misses = 0 if best is None or mcc > best else misses + 1
        best = mcc if best is None else max(best, mcc)
        if misses == 2:
            expected_stop = step
            break
    assert expected_stop is not None and steps == expected_stop < 40
    assert [step for step, _ in evaluations] == list(range(1, steps + 1))  # evaluated every step, none after the stop


def _copy_checkpoint(runs, tmp_path, name="resume"):
    out = tmp_path / name
    shutil.copytree(runs / "resumed" / "checkpoint-3", out / "checkpoint-3")
    return out


def test_resuming_with_other_training_options_is_refused(runs, data_dir, tmp_path, capsys, common):
    out = _copy_checkpoint(runs, tmp_path)
    argv = common + ["--data_dir", str(data_dir), "--output_dir", str(out), "--resume_from_checkpoint", "last"]
    assert train.main([*argv, "--learning_rate", "1e-3", "--max_train_samples", "80"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {out / 'checkpoint-3'} was written by a run with other settings (learning_rate, max_train_samples); "
        "resume with the same options (only logging, saving and output options may change), or start afresh")
    # Logging and checkpoint-keeping options may change: the run continues, to the same weights.
    assert train.main([*argv, "--logging_steps", "1", "--save_total_limit", "2"]) == 0
    whole = _weights(runs / "whole")
    assert all(torch.equal(whole[k], v) for k, v in _weights(out).items())


def test_last_skips_a_checkpoint_cut_off_mid_write(runs, data_dir, tmp_path, caplog, common):
    out = _copy_checkpoint(runs, tmp_path)
    cut = out / "checkpoint-5"
    shutil.copytree(out / "checkpoint-3", cut)
    (cut / "cola_suite.json").unlink()  # written last: its absence marks a checkpoint that was never finished
    (cut / "optimizer.pt").write_bytes((cut / "optimizer.pt").read_bytes()[:1000])
    argv = common + ["--data_dir", str(data_dir), "--output_dir", str(out), "--resume_from_checkpoint", "last"]
    with caplog.at_level("WARNING", logger="cola.checkpoints"):
        assert train.main(argv) == 0
    assert "Skipping incomplete checkpoint(s) checkpoint-5 (cut off while being written); resuming from checkpoint-3" \
        in caplog.text
    whole = _weights(runs / "whole")
    assert all(torch.equal(whole[k], v) for k, v in _weights(out).items())


@pytest.mark.parametrize("damage, message", [
    (lambda c: (c / "optimizer.pt").write_bytes((c / "optimizer.pt").read_bytes()[:5000]),
     "optimizer.pt: damaged (not a complete torch.save archive)"),
    (lambda c: (c / "scheduler.pt").unlink(), "scheduler.pt: missing"),
    (lambda c: (c / "trainer_state.json").write_text('{"global_step": 3,'), "trainer_state.json: not valid JSON"),
    (lambda c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:100]),
     "model.safetensors: not readable weights"),
])
def test_a_damaged_checkpoint_is_a_one_line_error(runs, data_dir, tmp_path, capsys, damage, message, common):
    out = _copy_checkpoint(runs, tmp_path)
    damage(out / "checkpoint-3")
    argv = common + ["--data_dir", str(data_dir), "--output_dir", str(out), "--resume_from_checkpoint", "last"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out / 'checkpoint-3'}/") and message in err and len(err.strip().splitlines()) == 1
    assert "cannot be resumed exactly" in err


def test_a_resumed_run_that_fails_leaves_run_config_as_it_was(runs, data_dir, tmp_path, monkeypatch, common):
    from cola.trainer import ColaTrainer

    out = _copy_checkpoint(runs, tmp_path)
    shutil.copy(runs / "whole" / "run_config.json", out / "run_config.json")
    before = (out / "run_config.json").read_bytes()

    def interrupted(self, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ColaTrainer, "train", interrupted)
    argv = common + ["--data_dir", str(data_dir), "--output_dir", str(out), "--resume_from_checkpoint", "last",
                     "--logging_steps", "1"]  # an option that may change on resume, so the new config differs
    assert train.main(argv) == 130
    assert (out / "run_config.json").read_bytes() == before


def test_an_option_added_since_a_run_counts_as_its_default():
    """A checkpoint or finished seed written before an option existed ran as that option's default: resuming it
    with the default is the same run, with another value it is not."""
    from cola.checkpoints import config_differences
    from cola.recipes import parse_args, resolved_config

    now = resolved_config(parse_args(["--freeze", "2"]))
    older = {key: value for key, value in now.items() if not key.startswith("lora_")}
    assert config_differences(older, now) == []
    assert config_differences(older, resolved_config(parse_args(["--freeze", "2", "--lora_r", "8"]))) == ["lora_r"]
    assert config_differences(now, resolved_config(parse_args(["--freeze", "3"]))) == ["freeze"]


def test_two_spellings_of_one_data_folder_are_the_same_run(tmp_path, monkeypatch):
    """A sweep started with an absolute --data_dir continues when a script names the same folder relatively (the
    base-size grid was refused this way); another folder, or a path that does not exist, still differs."""
    from cola.checkpoints import config_differences
    from cola.recipes import parse_args, resolved_config

    (tmp_path / "data").mkdir()
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    stored = resolved_config(parse_args(["--data_dir", str(tmp_path / "data")]))
    assert config_differences(stored, resolved_config(parse_args(["--data_dir", "../data"]))) == []
    assert config_differences(stored, resolved_config(parse_args(["--data_dir", "."]))) == ["data_dir"]
    assert config_differences(stored, resolved_config(parse_args(["--data_dir", "../missing"]))) == ["data_dir"]
    missing = resolved_config(parse_args(["--data_dir", str(tmp_path / "gone")]))
    assert config_differences(missing, resolved_config(parse_args(["--data_dir", "../gone"]))) == ["data_dir"]


def test_a_resumed_run_says_which_checkpoint_it_continues(runs, tmp_path, data_dir, common, caplog):
    import shutil

    checkpoint = sorted((runs / "again").glob("checkpoint-*"))[0]
    shutil.copytree(checkpoint, tmp_path / "run" / checkpoint.name)
    with caplog.at_level("INFO", logger="cola.run"):
        assert train.main(common + ["--data_dir", str(data_dir), "--output_dir", str(tmp_path / "run"),
                                    "--resume_from_checkpoint", "last"]) == 0
    assert f"Continuing from {tmp_path / 'run' / checkpoint.name} (its weights, optimizer" in caplog.text


def test_the_documented_checkpointing_command_works_alone(tmp_path, tiny_bert_dir, data_dir):
    """`--save_strategy steps --save_steps N` (docs/usage.md) with the suite's default best checkpoint at the end:
    evaluation follows the save strategy when not given (it was refused: eval 'epoch' against save 'steps')."""
    import json

    import train

    out = tmp_path / "run"
    assert train.main(["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
                       "--max_train_samples", "64", "--max_eval_samples", "32", "--max_steps", "4",
                       "--per_device_train_batch_size", "16", "--save_strategy", "steps", "--save_steps", "2"]) == 0
    config = json.loads((out / "run_config.json").read_text())
    assert (config["eval_strategy"], config["eval_steps"]) == ("steps", 2)
    [checkpoint] = out.glob("checkpoint-*")  # the best one, kept (--save_total_limit 1)
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    evaluated = [e["step"] for e in state["log_history"] if "eval_loss" in e]
    assert evaluated == list(range(2, state["global_step"] + 1, 2)) and state["best_global_step"] in (2, 4)
