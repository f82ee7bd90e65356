"""The output folder (`cola.output_dir`): a folder that holds a run is refused and left byte-for-byte as it was,
continued with --resume_from_checkpoint, or replaced with --overwrite_run; one run at a time holds it."""

import errno
import fcntl
import hashlib
import os

import pytest

import train
from cola.errors import CliError
from cola.output_dir import LOCK_FILE, claim_output_dir


def _argv(model_dir, data_dir, out, *extra):
    return ["--model_name_or_path", str(model_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "32", "--max_eval_samples", "24", "--max_steps", "2", "--per_device_train_batch_size",
            "16", "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false", *extra]


def _snapshot(folder):
    """Every file under the folder with a digest of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def finished(tmp_path, tiny_bert_dir, data_dir):
    out = tmp_path / "run"
    assert train.main(_argv(tiny_bert_dir, data_dir, out)) == 0
    return out


def test_a_finished_run_is_refused_and_left_as_it_was(finished, tiny_bert_dir, data_dir, capsys):
    before = _snapshot(finished)
    assert {"results.json", "run_config.json", "model.safetensors"} <= before.keys()
    capsys.readouterr()
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--learning_rate", "1e-3")) == 2
    assert capsys.readouterr().err == (
        f"error: {finished} already holds a finished run (results.json); choose a fresh --output_dir, continue it "
        "with --resume_from_checkpoint last, or replace it with --overwrite_run\n")
    assert _snapshot(finished) == before
    # The same for a sweep of seeds over a finished sweep's folder.
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--seeds", "1", "2")) == 2
    assert _snapshot(finished) == before


def test_an_unfinished_run_is_refused_without_resume(tmp_path, tiny_bert_dir, data_dir, capsys):
    out = tmp_path / "run"
    (out / "checkpoint-7").mkdir(parents=True)
    (out / "checkpoint-7" / "trainer_state.json").write_text("{}")
    before = _snapshot(out)
    assert train.main(_argv(tiny_bert_dir, data_dir, out)) == 2
    assert "already holds an unfinished run (checkpoint-7)" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_overwrite_replaces_the_old_run_and_keeps_other_files(finished, tiny_bert_dir, data_dir):
    (finished / "checkpoint-99").mkdir()  # an old checkpoint that the new run would otherwise sit beside
    (finished / "notes.txt").write_text("mine")
    old_results = (finished / "results.json").read_bytes()
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--learning_rate", "1e-3", "--overwrite_run")) == 0
    assert not (finished / "checkpoint-99").exists()
    assert (finished / "notes.txt").read_text() == "mine"
    assert (finished / "results.json").read_bytes() != old_results
    assert not (finished / LOCK_FILE).exists()


def test_a_folder_in_use_is_refused_and_a_stale_lock_is_not(tmp_path, tiny_bert_dir, data_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"12345")
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run holds the folder
    try:
        assert train.main(_argv(tiny_bert_dir, data_dir, out)) == 2
        assert capsys.readouterr().err == (
            f"error: {out} is in use by another run (process 12345); wait for it to end or choose another --output_dir\n")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
    finally:
        os.close(fd)  # the holder ends (as a crashed run would): its lock file stays, its lock does not
    assert train.main(_argv(tiny_bert_dir, data_dir, out)) == 0
    assert (out / "results.json").is_file() and not (out / LOCK_FILE).exists()


def test_a_run_that_fails_early_leaves_no_new_folder(tmp_path, data_dir, capsys):
    out = tmp_path / "new" / "run"
    assert train.main(_argv(tmp_path / "no-model", data_dir, out)) == 2
    assert "cannot load model" in capsys.readouterr().err
    assert not out.exists()


def test_a_full_disk_is_a_one_line_error(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(CliError) as error:
        with claim_output_dir(out, resuming=False, overwrite=False):
            (out / "run_config.json").write_text("{}")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(error.value) == (f"no space left on the device while writing into {out}; no results.json was written "
                                "(free space, then continue with --resume_from_checkpoint last)")
    assert not (out / LOCK_FILE).exists() and (out / "run_config.json").is_file()
