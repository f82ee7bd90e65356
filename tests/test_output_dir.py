"""The output folder (`cola.output_dir`): a folder that holds a run is refused and left byte-for-byte as it was,
continued with --resume_from_checkpoint, or replaced with --overwrite_run; one run at a time holds it."""

import errno
import fcntl
import hashlib
import json
import os

import pytest

import train
from cola.errors import CliError
from cola.output_dir import LOCK_FILE, RECORD_FILE, claim_output_dir, remove_run_files


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


def test_overwrite_replaces_the_old_run_and_keeps_other_files(tmp_path, tiny_bert_dir, data_dir):
    """--overwrite_run deletes what the run's record says it wrote: not a user's files, whether they were there
    before the run or put there after it."""
    out = tmp_path / "run"
    out.mkdir()
    for name in ("seed_data", "notes"):
        (out / name).mkdir()
        (out / name / "keep.txt").write_text("mine")
    (out / "my_vocab.txt").write_text("my vocabulary")
    assert train.main(_argv(tiny_bert_dir, data_dir, out, "--save_strategy", "steps", "--save_steps", "1")) == 0
    record = json.loads((out / RECORD_FILE).read_text())
    assert record["complete"] and record["before"] == ["my_vocab.txt", "notes", "seed_data"]
    assert {"checkpoint-2", "results.json", "model.safetensors", "README.md"} <= set(record["added"])
    (out / "notes.txt").write_text("mine")  # added by the user after the run
    (out / "scratch").mkdir()
    old_results = (out / "results.json").read_bytes()
    assert train.main(_argv(tiny_bert_dir, data_dir, out, "--learning_rate", "1e-3", "--overwrite_run")) == 0
    assert not (out / "checkpoint-2").exists()  # the old run's, gone
    assert (out / "results.json").read_bytes() != old_results
    assert (out / "notes.txt").read_text() == "mine" and (out / "my_vocab.txt").read_text() == "my vocabulary"
    assert all((out / name / "keep.txt").read_text() == "mine" for name in ("seed_data", "notes"))
    assert (out / "scratch").is_dir() and not (out / LOCK_FILE).exists()


def test_overwrite_refuses_what_the_new_run_would_write_over(finished, tiny_bert_dir, data_dir, capsys):
    """A file named like a run's that the old run did not write (put there after it) would be written over by the
    new run: the overwrite is refused, nothing deleted."""
    (finished / "vocab.txt").write_text("my vocabulary")
    before = _snapshot(finished)
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--overwrite_run")) == 2
    assert capsys.readouterr().err == (f"error: {finished / 'vocab.txt'} was not written by the run in {finished}; "
                                       "move it away, then --overwrite_run\n")
    assert _snapshot(finished) == before


def test_overwrite_refuses_a_checkpoint_the_run_did_not_write(finished, tiny_bert_dir, data_dir, capsys):
    (finished / "checkpoint-99").mkdir()  # copied in by hand: resuming would pick it up beside the new run's
    before = _snapshot(finished)
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--overwrite_run")) == 2
    assert capsys.readouterr().err == (f"error: {finished / 'checkpoint-99'} was not written by the run in {finished}; "
                                       "move it away, then --overwrite_run\n")
    assert _snapshot(finished) == before and (finished / "checkpoint-99").is_dir()


def test_overwrite_of_a_killed_run_deletes_what_looks_like_a_run_and_was_not_there_before(tmp_path):
    """A run killed outright never completes its record: then the run-like entries it added go, nothing else."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(KeyboardInterrupt):
        with claim_output_dir(out, resuming=False, overwrite=False):
            raise KeyboardInterrupt
    assert not (out / RECORD_FILE).exists()  # it wrote nothing: no record left behind
    with claim_output_dir(out, resuming=False, overwrite=False):
        (out / "checkpoint-3").mkdir()
        (out / "run_config.json").write_text("{}")
        record = json.loads((out / RECORD_FILE).read_text())
    assert record == {"before": ["notes.txt"], "added": [], "complete": False}  # as a SIGKILL would leave it
    (out / RECORD_FILE).write_text(json.dumps(record))
    (out / "scratch").mkdir()  # not run-like: kept
    assert remove_run_files(out) == ["checkpoint-3", "run_config.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(["notes.txt", RECORD_FILE, "scratch"])


def test_overwrite_refuses_a_run_without_a_record(finished, tiny_bert_dir, data_dir, capsys):
    (finished / RECORD_FILE).unlink()  # as an older version of the suite left it
    before = _snapshot(finished)
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--overwrite_run")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {finished} holds a run without the suite's record of what it wrote") and err.count("\n") == 1
    assert _snapshot(finished) == before


@pytest.mark.parametrize("extra", [[], ["--overwrite_run"], ["--seeds", "1", "--overwrite_run"]])
def test_the_folder_the_base_model_is_read_from_is_never_the_output(tmp_path, tiny_bert_dir, data_dir, capsys, extra):
    import shutil

    model = tmp_path / "base"
    shutil.copytree(tiny_bert_dir, model)
    before = _snapshot(model)
    assert train.main(_argv(model, data_dir, model, *extra)) == 2
    assert capsys.readouterr().err == (f"error: --output_dir {model} is the folder the base model is read from; "
                                       "choose another --output_dir\n")
    assert _snapshot(model) == before


def test_a_finished_run_is_not_resumed(finished, tiny_bert_dir, data_dir, capsys):
    before = _snapshot(finished)
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--resume_from_checkpoint", "last")) == 2
    assert capsys.readouterr().err == (
        f"error: {finished} holds a finished run (results.json): there is nothing to continue; train another run in a "
        "fresh --output_dir, or replace this one with --overwrite_run\n")
    # nor is a sweep of seeds mixed into it
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--seeds", "1", "--resume_from_checkpoint", "last")) == 2
    assert "holds a single run, not a sweep of seeds" in capsys.readouterr().err
    assert _snapshot(finished) == before


def test_overwrite_run_comes_from_the_command_line_only(finished, tmp_path, tiny_bert_dir, data_dir, capsys):
    """run_config.json holds no folder action; a recipe that carries one is refused, so replaying one run's file
    into another run's folder never deletes that run."""
    config = json.loads((finished / "run_config.json").read_text())
    assert not {"overwrite_run", "resume_from_checkpoint", "hub_token"} & config.keys()
    other = tmp_path / "other"
    assert train.main(_argv(tiny_bert_dir, data_dir, other)) == 0
    before = _snapshot(other)
    assert train.main(["--recipe", str(finished / "run_config.json"), "--output_dir", str(other)]) == 2
    assert "already holds a finished run" in capsys.readouterr().err
    recipe = tmp_path / "destructive.json"
    recipe.write_text(json.dumps(config | {"overwrite_run": True}))
    assert train.main(["--recipe", str(recipe), "--output_dir", str(other)]) == 2
    assert capsys.readouterr().err == (f"error: {recipe}: 'overwrite_run' acts on the output folder and is taken from "
                                       "the command line only; remove it from the file (and give --overwrite_run when "
                                       "you mean it)\n")
    assert _snapshot(other) == before


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


# --- the folder the run will actually write into, however it is spelled (issue 28) ---

def _spellings(folder):
    """Ways to name `folder` that are not its plain path: through a folder that does not exist yet, a trailing
    slash, a '.', a symbolic link to it."""
    link = folder.parent / f"{folder.name}-link"
    if not link.exists():
        link.symlink_to(folder, target_is_directory=True)
    return [f"{folder}/missing/..", f"{folder}/", f"{folder}/./", str(link), f"{link}/missing/.."]


def test_a_finished_run_is_refused_however_its_folder_is_spelled(finished, tiny_bert_dir, data_dir, capsys):
    before = _snapshot(finished)
    for spelled in _spellings(finished):
        assert train.main(_argv(tiny_bert_dir, data_dir, spelled)) == 2, spelled
        assert capsys.readouterr().err.startswith(f"error: {finished} already holds a finished run (results.json)")
        assert _snapshot(finished) == before and not (finished / "missing").exists()


def test_the_model_and_data_folders_are_refused_however_they_are_spelled(tmp_path, tiny_bert_dir, data_dir, capsys,
                                                                        monkeypatch):
    import shutil

    model, cola = tmp_path / "base", tmp_path / "cola"
    shutil.copytree(tiny_bert_dir, model)
    shutil.copytree(data_dir, cola)
    before = _snapshot(model), _snapshot(cola)
    for spelled in _spellings(model):
        assert train.main(_argv(model, cola, spelled, "--overwrite_run")) == 2
        assert capsys.readouterr().err == (f"error: --output_dir {model} is the folder the base model is read from; "
                                           "choose another --output_dir\n")
    for spelled in _spellings(cola):
        assert train.main(_argv(model, cola, spelled)) == 2
        assert capsys.readouterr().err == (f"error: --output_dir {cola} is the folder the CoLA data is read from; "
                                           "choose another --output_dir\n")
    monkeypatch.setenv("COLA_DATA_DIR", str(cola))  # no --data_dir: CoLA's folder comes from the environment
    argv = [word for word in _argv(model, cola, f"{cola}/x/..") if word not in ("--data_dir", str(cola))]
    assert train.main(argv) == 2 and "is the folder the CoLA data is read from" in capsys.readouterr().err
    assert (_snapshot(model), _snapshot(cola)) == before
    assert sorted(p.name for p in cola.iterdir()) == sorted(p.name for p in data_dir.iterdir())


def test_the_suites_cache_is_never_an_output_folder(tmp_path, tiny_bert_dir, data_dir, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "cache" / "cola-suite" / "models" / "mine"
    assert train.main(_argv(tiny_bert_dir, data_dir, out)) == 2
    assert capsys.readouterr().err.startswith(f"error: --output_dir {out} lies in the suite's cache")
    assert not out.exists()


@pytest.mark.parametrize("name", ["config.json", "run_config.json", "tokenizer.json", "tokenizer_config.json",
                                  "training_args.bin", "vocab.txt", "special_tokens_map.json", "sentencepiece.bpe.model",
                                  "wandb", "checkpoint-notes", "README.md"])
def test_a_fresh_run_writes_over_nothing_the_folder_holds(tmp_path, tiny_bert_dir, data_dir, capsys, name):
    out = tmp_path / "mine"
    out.mkdir()
    if name in ("wandb", "checkpoint-notes"):
        (out / name).mkdir()
        (out / name / "notes.txt").write_text("mine")
    else:
        (out / name).write_text("mine")
    before = _snapshot(out)
    assert train.main(_argv(tiny_bert_dir, data_dir, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and (f"holds {name}, which the run would write over" in err or
                                     "not a model card this suite wrote" in err)
    assert _snapshot(out) == before and sorted(p.name for p in out.iterdir()) == [name]


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", ".cola-suite.lock", ".cola-suite-run.json",
                                  "checkpoint-2"])
@pytest.mark.parametrize("extra", [[], ["--overwrite_run"]])
def test_a_symbolic_link_in_the_folder_is_never_written_through(tmp_path, tiny_bert_dir, data_dir, capsys, name, extra):
    out, target = tmp_path / "mine", tmp_path / "elsewhere.txt"
    out.mkdir()
    target.write_text("precious")
    (out / name).symlink_to(target)
    assert train.main(_argv(tiny_bert_dir, data_dir, out, *extra)) == 2
    assert capsys.readouterr().err == (f"error: {out / name} is a symbolic link where the run writes; the suite never "
                                       "writes through a link it did not make: remove the link, or choose another "
                                       "--output_dir\n")
    assert target.read_text() == "precious" and sorted(p.name for p in out.iterdir()) == [name]


@pytest.mark.parametrize("entry, why", [
    ("../outside", "the entry \"../outside\" is not a name directly in the folder"),
    ("/ABSOLUTE", "is not a name directly in the folder"),
    (".", "the entry \".\" is not a name directly in the folder"),
    ("", "the entry \"\" is not a name directly in the folder"),
    ("sub/model.safetensors", "is not a name directly in the folder"),
    (5, "the entry 5 is not a name directly in the folder"),
    (None, "the entry null is not a name directly in the folder"),
    (["x"], "is not a name directly in the folder"),
])
def test_an_edited_record_deletes_nothing(finished, tiny_bert_dir, data_dir, tmp_path, capsys, entry, why):
    """The record is a file anyone can edit: an entry that is not a plain name in the folder refuses the overwrite."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "keep.txt").write_text("mine")
    record = json.loads((finished / RECORD_FILE).read_text())
    record["added"].append(str(outside) if entry == "/ABSOLUTE" else entry)
    (finished / RECORD_FILE).write_text(json.dumps(record))
    before = _snapshot(finished)
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--overwrite_run")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {finished / RECORD_FILE} is not a record this suite could have written (")
    assert why in err and err.count("\n") == 1
    assert _snapshot(finished) == before and (outside / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("damage", ["not JSON", "a list", "no added"])
def test_a_damaged_record_deletes_nothing(finished, tiny_bert_dir, data_dir, capsys, damage):
    text = {"not JSON": "{", "a list": "[]", "no added": '{"before": []}'}[damage]
    (finished / RECORD_FILE).write_text(text)
    before = _snapshot(finished)
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--overwrite_run")) == 2
    assert "is not a record this suite could have written" in capsys.readouterr().err
    assert _snapshot(finished) == before


@pytest.mark.parametrize("name, make", [
    ("notes.txt", lambda p: p.write_text("mine")),  # a user's file, listed as the run's: not what a run writes
    ("results.json", lambda p: p.mkdir()),  # a run's file name, but a folder now
    ("checkpoint-1", lambda p: p.write_text("mine")),  # a run's folder name, but a file now
])
def test_a_record_entry_that_no_longer_looks_like_the_runs_deletes_nothing(finished, tiny_bert_dir, data_dir, capsys,
                                                                           name, make):
    import shutil

    target = finished / name
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    make(target)
    record = json.loads((finished / RECORD_FILE).read_text())
    record["added"] = sorted(set(record["added"]) | {name})
    (finished / RECORD_FILE).write_text(json.dumps(record))
    before = _snapshot(finished)
    assert train.main(_argv(tiny_bert_dir, data_dir, finished, "--overwrite_run")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {target} is listed in {RECORD_FILE} as written by the run, but is not what a run "
                          "writes") and err.count("\n") == 1
    assert _snapshot(finished) == before


def test_overwrite_never_deletes_the_model_the_new_run_reads(finished, data_dir, tiny_bert_dir, capsys):
    import shutil

    (finished / "checkpoint-9").mkdir()  # the old run's checkpoint, recorded as its own
    shutil.copytree(tiny_bert_dir, finished / "checkpoint-9", dirs_exist_ok=True)
    record = json.loads((finished / RECORD_FILE).read_text())
    (finished / RECORD_FILE).write_text(json.dumps(record | {"added": sorted(record["added"] + ["checkpoint-9"])}))
    before = _snapshot(finished)
    assert train.main(_argv(finished / "checkpoint-9", data_dir, finished, "--overwrite_run")) == 2
    assert capsys.readouterr().err == (f"error: --overwrite_run would delete {finished / 'checkpoint-9'}, which holds "
                                       "the base model this run reads; nothing was deleted: choose another --output_dir\n")
    assert _snapshot(finished) == before


def test_a_real_run_writes_only_what_the_folder_rules_know(trained_run, tmp_path, tiny_bert_dir, data_dir):
    """Every entry a run leaves is one a fresh run refuses to write over and --overwrite_run may delete: the lists
    in cola.output_dir are the run's real output, checked here on a run with checkpoints, a test split and LoRA."""
    from cola.output_dir import would_write

    out = tmp_path / "lora"
    assert train.main(_argv(tiny_bert_dir, data_dir, out, "--save_strategy", "steps", "--save_steps", "1",
                            "--lora_r", "2")) == 0
    for folder in (trained_run, out):
        entries = {p.name for p in folder.iterdir()} - {RECORD_FILE}
        assert entries and all(would_write(name) for name in entries), sorted(entries)
        assert sorted(json.loads((folder / RECORD_FILE).read_text())["added"]) == sorted(entries)


def test_the_trained_model_is_on_disk_before_the_final_evaluation(tmp_path, tiny_bert_dir, data_dir, monkeypatch):
    """A failure after training (here the final evaluation) loses no training: the weights were saved first."""
    from cola.trainer import ColaTrainer

    def failing(self, *args, **kwargs):
        raise RuntimeError("out of memory in the final evaluation")

    monkeypatch.setattr(ColaTrainer, "evaluate", failing)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="out of memory"):
        train.main(_argv(tiny_bert_dir, data_dir, out))
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file() and not (out / "results.json").exists()
