"""train.py through its real entry point (`train.main`, and as a script) on a slice of the real CoLA files:
the outputs of a run, and the bad inputs and interruptions the README's table lists."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import REPO
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

import train
from cola.class_weights import class_weights_for
from cola.cola_tsv import CLASS_NAMES
from cola.config import DataArguments
from cola.data import load_data
from cola.precision import detect_precision
from cola.recipes import load_recipe

METRIC_KEYS = {"matthews_correlation", "accuracy", "f1_macro", "loss", "n"}


def test_results_json_has_the_stable_keys(trained_run, data_dir):
    results = json.loads((trained_run / "results.json").read_text())
    assert {"eval", "eval_in_domain", "eval_out_of_domain", "train", "class_weights", "layer_groups", "param_groups",
            "trainable_parameters", "total_parameters", "config", "versions"} <= results.keys()
    for section in ("eval", "eval_in_domain", "eval_out_of_domain"):
        assert METRIC_KEYS <= results[section].keys(), section
        assert -1 <= results[section]["matthews_correlation"] <= 1
    assert results["eval"]["n"] == 120
    assert results["eval_in_domain"]["n"] + results["eval_out_of_domain"]["n"] == 120
    assert {"runtime_s", "samples_per_second", "steps", "epochs", "final_loss"} <= results["train"].keys()
    assert results["train"]["steps"] == 12 and results["train"]["epochs"] == 2

    # class weights from the (sub-sampled) training split the model trained on
    train_split = load_data(DataArguments(data_dir=str(data_dir), max_train_samples=96), seed=7).train
    assert results["class_weights"] == pytest.approx(
        class_weights_for(train_split["labels"], enabled=True, values=None, num_labels=2))

    assert [g["name"] for g in results["layer_groups"]] == ["embeddings"] + [f"layer_{i:02d}" for i in range(6)] + ["pooler"]
    assert [g["frozen"] for g in results["layer_groups"]] == [True, True] + [False] * 6
    names = [g["name"] for g in results["param_groups"]]
    assert names[0] == "head.decay" and names[-1] == "layer_01.no_decay"
    grouped = [p for g in results["param_groups"] for p in g["params"]]
    assert len(grouped) == len(set(grouped)) and "classifier.weight" in grouped
    assert not any(p.startswith(("bert.embeddings.", "bert.encoder.layer.0.")) for p in grouped)
    # trainable = the unfrozen layer groups + the classification head, counted on the saved model
    saved = AutoModelForSequenceClassification.from_pretrained(trained_run)
    head = sum(p.numel() for name, p in saved.named_parameters() if name.startswith("classifier."))
    assert head == saved.config.hidden_size * 2 + 2
    assert results["trainable_parameters"] == sum(g["params"] for g in results["layer_groups"] if not g["frozen"]) + head
    assert results["total_parameters"] == sum(p.numel() for p in saved.parameters())
    assert results["config"]["freeze"] == 2 and results["config"]["model_name_or_path"] == "all-MiniLM-L6-v2"
    assert results["versions"]["transformers"].startswith("5.")


def test_resolved_config_is_written_and_reloads(trained_run):
    values = load_recipe(trained_run / "run_config.json")
    assert values["freeze"] == 2 and values["seed"] == 7 and values["max_train_samples"] == 96
    # What was asked for, not what this machine chose: the file replays as 'auto' elsewhere.
    assert (values["precision"], values["bf16"], values["fp16"], values["use_cpu"]) == ("auto", False, False, False)
    results = json.loads((trained_run / "results.json").read_text())
    assert results["precision"] == {"requested": "auto", "used": detect_precision(use_cpu=False)}
    assert {"schema_version": 2, **results["config"]} == json.loads((trained_run / "run_config.json").read_text())


def test_output_loads_in_a_pipeline(trained_run):
    assert (trained_run / "model.safetensors").is_file()
    config = json.loads((trained_run / "config.json").read_text())
    assert config["id2label"] == {"0": "unacceptable", "1": "acceptable"}
    sentences = ["The book was written by John.", "Books were sent to each other by the students."]
    classify = pipeline("text-classification", model=str(trained_run), device="cpu")
    # The pipeline's label and score are the saved model's own: argmax and softmax of its logits.
    model = AutoModelForSequenceClassification.from_pretrained(trained_run).eval()
    tokenizer = AutoTokenizer.from_pretrained(trained_run)
    with torch.no_grad():
        probs = model(**tokenizer(sentences, padding=True, return_tensors="pt")).logits.softmax(-1)
    for prediction, p in zip(classify(sentences), probs):
        assert prediction["label"] == CLASS_NAMES[int(p.argmax())]
        assert prediction["score"] == pytest.approx(float(p.max()), abs=1e-5)


@pytest.mark.slow
def test_accelerate_launch_runs_the_cli(tmp_path, data_dir):
    out = tmp_path / "launched"
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu", "train.py",
         "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir), "--output_dir", str(out),
         "--max_train_samples", "32", "--max_eval_samples", "32", "--max_steps", "2", "--save_strategy", "no",
         "--load_best_model_at_end", "false", "--no-class-weights"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["train"]["steps"] == 2 and results["class_weights"] is None


# --- bad input and interruptions ---


def test_unwritable_output_directory(tmp_path, data_dir, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    argv = ["--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir), "--output_dir", str(blocker / "out")]
    assert train.main(argv) == 2
    assert capsys.readouterr().err.strip() == f"error: cannot write to output directory {blocker / 'out'}: Not a directory"


@pytest.mark.slow
def test_interrupted_run_leaves_no_results(tmp_path, data_dir):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "train.py", "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir),
         "--output_dir", str(out), "--max_train_samples", "256", "--max_steps", "100000", "--save_strategy", "no",
         "--eval_strategy", "no", "--load_best_model_at_end", "false", "--disable_tqdm", "true"],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
        # As in a terminal: a test run started in the background by a non-interactive shell (`cmd &`) inherits
        # SIGINT ignored, and the child would never see the Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    for line in proc.stderr:  # wait until training has really started
        lines.append(line)
        if "Optimizer" in line:
            break
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest
    assert rest.strip().splitlines()[-1].startswith("error: interrupted; no results.json was written")
    assert "Traceback" not in rest
    assert not (out / "results.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".results")] == []


def test_unknown_metric_for_best_model_fails_before_training(tmp_path, tiny_bert_dir, data_dir, capsys):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "32", "--max_eval_samples", "40", "--metric_for_best_model", "mcc"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the model-loading progress bar
    assert err.startswith("error: --metric_for_best_model 'mcc' is not reported by this run's evaluation; choose one of: loss, ")
    assert "in_domain_matthews_correlation" in err
    assert not list(out.glob("checkpoint-*")) and not (out / "results.json").exists()


def test_a_diverging_run_fails_and_is_not_reported(tmp_path, tiny_bert_dir, data_dir, capsys):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "64", "--max_eval_samples", "32", "--max_steps", "4", "--per_device_train_batch_size",
            "16", "--optim", "sgd", "--learning_rate", "1e30", "--logging_steps", "1", "--eval_strategy", "no",
            "--save_strategy", "no", "--load_best_model_at_end", "false", "--precision", "fp32"]
    assert train.main(argv + ["--save_strategy", "steps", "--save_steps", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: training diverged: the loss or the weights became NaN or infinite by step ")
    assert not (out / "results.json").exists() and not (out / "model.safetensors").exists()
    # its checkpoints hold the NaN weights: never marked complete, so never resumed; predict refuses them
    checkpoints = sorted(out.glob("checkpoint-*"))
    assert checkpoints and not any((c / "cola_suite.json").exists() for c in checkpoints)
    from cola import predict

    assert predict.main([str(checkpoints[-1]), "The book was written by John."]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (f"error: {checkpoints[-1]}: the model's weights hold NaN or "
                                                        "infinite values (a run that diverged?); it cannot classify anything")


def test_options_only_the_trainer_checks_are_one_line_errors(tmp_path, tiny_bert_dir, data_dir, capsys):
    out = tmp_path / "run"
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "32", "--max_eval_samples", "24", "--max_steps", "1", "--report_to", "nothing"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: --report_to nothing: not an integration the Trainer knows (it knows: ")
    assert not out.exists()  # a run that fails before writing anything leaves no folder


# Each was a traceback when training started (after the data and the model had loaded); the packages named are
# not installed here (the test skips a case whose package is).
@pytest.mark.parametrize("extra, package, message", [
    (["--optim", "adamw_bnb_8bit"], "bitsandbytes",
     "error: --optim adamw_bnb_8bit: You need to install `bitsandbytes` in order to use bitsandbytes optimizers"),
    (["--optim", "schedule_free_adamw"], "schedulefree",
     "error: --optim schedule_free_adamw: You need to install `schedulefree`"),
    (["--deepspeed", "ds.json"], "deepspeed", "error: --deepspeed needs the deepspeed package: pip install deepspeed"),
    (["--use_liger_kernel", "true"], "liger_kernel", "error: --use_liger_kernel needs the liger-kernel package"),
    (["--lr_scheduler_type", "cosine", "--lr_scheduler_kwargs", '{"cycles": 2}'], None,
     'error: --lr_scheduler_type cosine with --lr_scheduler_kwargs {"cycles": 2}: get_cosine_schedule_with_warmup() '
     "got an unexpected keyword argument 'cycles'"),
    (["--lr_scheduler_type", "cosine_with_min_lr"], None,
     "error: --lr_scheduler_type cosine_with_min_lr: One of min_lr or min_lr_rate should be set"),
    (["--dataloader_num_workers", "2", "--dataloader_prefetch_factor", "0"], None,
     "error: dataloader_prefetch_factor must be 1 or more, got 0"),
    # passes the constructor, fails at the first step (an hour in): the check steps the schedule
    (["--lr_scheduler_type", "warmup_stable_decay", "--lr_scheduler_kwargs", '{"num_decay_steps": 2, "min_lr_ratio": "x"}'],
     None, 'error: --lr_scheduler_type warmup_stable_decay with --lr_scheduler_kwargs {"num_decay_steps": 2, '
     '"min_lr_ratio": "x"}: unsupported operand type'),
    (["--lr_scheduler_type", "warmup_stable_decay", "--lr_scheduler_kwargs", '{"num_decay_steps": -5}'], None,
     'error: --lr_scheduler_type warmup_stable_decay with --lr_scheduler_kwargs {"num_decay_steps": -5}: num_decay_steps '
     "must be 0 or more"),
    # the Trainer drops --optim_args for these without a word
    (["--optim_args", "eps=1e-6"], None, "error: --optim adamw_torch_fused does not read --optim_args eps"),
    (["--optim", "sgd", "--optim_args", "momentum=0.9,nesterov=True,dampening=0.1,foo=1"], None,
     "error: --optim sgd does not read --optim_args foo"),
    (["--per_device_eval_batch_size", "1000000000000"], None,
     "error: per_device_eval_batch_size is limited to 65,536, got 1,000,000,000,000"),
    (["--eval_strategy", "no"], None,
     "error: load_best_model_at_end (on by default in this suite: the run ends with its best checkpoint) needs "
     "--save_strategy to match --eval_strategy, got save 'epoch' and eval 'no'; give --save_strategy no, or "
     "--load_best_model_at_end false"),
])
def test_a_library_failure_at_start_up_is_one_line_before_any_work(tmp_path, capsys, extra, package, message):
    import importlib.util

    if package and importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here")
    # The data folder does not exist: an error about the option proves it was checked before the data was read.
    argv = ["--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(tmp_path / "no-data"),
            "--output_dir", str(tmp_path / "run"), *extra]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def _short(tiny_bert_dir, data_dir, out, *extra):
    return ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out),
            "--max_train_samples", "64", "--max_eval_samples", "40", "--per_device_train_batch_size", "16",
            "--learning_rate", "1e-3", "--num_train_epochs", "2", "--seed", "5", *extra]


def test_the_last_evaluation_is_not_run_twice(tmp_path, tiny_bert_dir, data_dir, monkeypatch):
    """The Trainer's evaluation at the last step already scored the model the run ends with: results.json takes
    it (one pass over the evaluation set less), and it is what a second evaluation would have said."""
    import cola.run
    from cola.trainer import ColaTrainer

    calls, real = [], ColaTrainer.evaluate

    def counted(self, *args, **kwargs):
        calls.append(self.state.global_step)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ColaTrainer, "evaluate", counted)
    assert train.main(_short(tiny_bert_dir, data_dir, tmp_path / "once", "--load_best_model_at_end", "false")) == 0
    assert calls == [4, 8]  # once per epoch, none after
    monkeypatch.setattr(cola.run, "final_evaluation", lambda trainer: trainer.evaluate())
    assert train.main(_short(tiny_bert_dir, data_dir, tmp_path / "twice", "--load_best_model_at_end", "false")) == 0
    assert calls == [4, 8, 4, 8, 8]
    once, twice = (json.loads((tmp_path / name / "results.json").read_text())["eval"] for name in ("once", "twice"))
    timing = ("runtime_s", "samples_per_second")
    assert {k: v for k, v in once.items() if k not in timing} == {k: v for k, v in twice.items() if k not in timing}
    # No evaluation during training: the one at the end is the only one.
    monkeypatch.undo()
    monkeypatch.setattr(ColaTrainer, "evaluate", counted)
    calls.clear()
    assert train.main(_short(tiny_bert_dir, data_dir, tmp_path / "none", "--max_steps", "3", "--eval_strategy", "no",
                             "--save_strategy", "no", "--load_best_model_at_end", "false")) == 0
    assert calls == [3]


def test_the_weights_are_readable_like_every_other_file(tmp_path, tiny_bert_dir, data_dir):
    import stat

    out = tmp_path / "run"
    assert train.main(_short(tiny_bert_dir, data_dir, out, "--num_train_epochs", "1")) == 0
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert modes["model.safetensors"] == modes["results.json"] == 0o666 & ~_umask()
    assert [name for name, mode in modes.items() if mode != modes["results.json"]] == []


def _umask():
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_run_that_predicts_one_class_says_so(tmp_path, tiny_bert_dir, data_dir, caplog):
    """MCC 0 from a collapsed model is no score: the log and the model card say the model predicts one class."""
    out = tmp_path / "collapsed"
    with caplog.at_level("WARNING", logger="cola.results"):
        # Class weights that only count 'acceptable', and a high rate: every sentence becomes 'acceptable'.
        assert train.main(_short(tiny_bert_dir, data_dir, out, "--class_weight_values", "0.000001", "1000")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["eval"]["predicted_acceptable"] == 1.0
    warning = ("The model predicts one class ('acceptable') for every evaluation example: it learned nothing usable "
               "(MCC 0)")
    assert warning in caplog.text and f"**Warning:** {warning}" in (out / "README.md").read_text()


def test_each_evaluation_is_one_short_line(tmp_path, tiny_bert_dir, data_dir, capfd):
    assert train.main(_short(tiny_bert_dir, data_dir, tmp_path / "run", "--num_train_epochs", "1",
                             "--disable_tqdm", "true")) == 0
    lines = [line for line in capfd.readouterr().out.splitlines() if "eval MCC" in line]
    assert len(lines) == 1 and lines[0].startswith("step 4 (epoch 1): eval MCC ")
    assert "; in_domain MCC " in lines[0] and "; out_of_domain MCC " in lines[0] and "eval_f1" not in lines[0]


@pytest.mark.slow
def test_python_m_cola_runs_exactly_what_train_py_runs(tmp_path, tiny_bert_dir, data_dir):
    """Two doors, one command: the same options through `python -m cola` and `python train.py` give the same run."""
    from safetensors.torch import load_file

    outs = {}
    for door in (["-m", "cola"], ["train.py"]):
        out = outs[door[-1]] = tmp_path / door[-1].replace(".", "_")
        proc = subprocess.run([sys.executable, *door, *_short(tiny_bert_dir, data_dir, out, "--max_steps", "3",
                                                               "--eval_strategy", "no", "--save_strategy", "no",
                                                               "--load_best_model_at_end", "false", "--precision", "fp32")],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = (load_file(outs[name] / "model.safetensors") for name in ("cola", "train.py"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    results = [json.loads((outs[name] / "results.json").read_text()) for name in ("cola", "train.py")]
    assert results[0]["eval"]["matthews_correlation"] == results[1]["eval"]["matthews_correlation"]
