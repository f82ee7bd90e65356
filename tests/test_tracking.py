"""W&B (`cola.tracking`): --report_to wandb with no credentials goes offline at once, and the run file holds the
metrics, the freeze setting and the suite's tables; one W&B run per seed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

import train

pytestmark = pytest.mark.slow  # each test runs train.py in a subprocess


def _train_offline(tmp_path, model, data_dir, out, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["HOME"] = str(tmp_path / "home")  # no ~/.netrc: no credentials
    proc = subprocess.run(
        [sys.executable, "train.py", "--model_name_or_path", str(model), "--data_dir", str(data_dir),
         "--output_dir", str(out), "--max_train_samples", "64", "--max_eval_samples", "40", "--num_train_epochs", "1",
         "--per_device_train_batch_size", "16", "--freeze", "2", "--logging_steps", "1", "--report_to", "wandb", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_offline_run_records_metrics_config_and_tables(tmp_path, data_dir):
    """...and never a --hub_token: not in the W&B run's files (which record the command line), not in the
    pickled arguments of the output folder and its checkpoint, nowhere under the output folder."""
    out, secret = tmp_path / "run", "hf_SECRETvalue0123456789"
    proc = _train_offline(tmp_path, "all-MiniLM-L6-v2", data_dir, out, "--hub_token", secret)
    assert f"W&B: no credentials found, logging offline to {out.resolve()}/wandb" in proc.stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "training_args.bin" for p in written) and any(p.suffix == ".wandb" for p in written)
    # W&B records the command line: the option is there, its value is not
    assert any(b"--hub_token" in p.read_bytes() for p in written if p.suffix == ".wandb")
    assert [p for p in written if secret.encode() in p.read_bytes()] == [] and secret not in proc.stderr + proc.stdout

    [run_file] = (out / "wandb").glob("offline-run-*/run-*.wandb")
    config, history, summary = read_run(run_file)
    results = json.loads((out / "results.json").read_text())

    assert config["freeze"] == 2 and config["suite"]["freeze"] == 2 and config["suite"]["max_length"] == 64
    assert config["class_weights"] == results["class_weights"]
    assert [g["frozen"] for g in config["layer_groups"]] == [g["frozen"] for g in results["layer_groups"]]
    # --freeze 2: cached. W&B has the cache as the run set it up (it fills as training reads the data: results.json
    # has it as the run ended)
    growing = {"cached_sentences", "build_seconds", "grow_passes"}
    assert results["frozen_cache"]["used"] and config["frozen_cache"]["cached_sentences"] == 0
    assert {k: v for k, v in config["frozen_cache"].items() if k not in growing} == {
        k: v for k, v in results["frozen_cache"].items() if k not in growing}
    assert [g["name"] for g in config["param_groups"]] == [g["name"] for g in results["param_groups"]]
    assert summary["eval/matthews_correlation"] == results["eval"]["matthews_correlation"]
    assert summary["eval/in_domain_matthews_correlation"] == results["eval_in_domain"]["matthews_correlation"]
    assert summary["eval/out_of_domain_accuracy"] == results["eval_out_of_domain"]["accuracy"]
    assert sum("train/loss" in row for row in history) == results["train"]["steps"] == 4
    assert any("tables/layer_groups/_type" in row for row in history)


def test_each_seed_gets_its_own_run(tmp_path, tiny_bert_dir, data_dir):
    out = tmp_path / "sweep"
    _train_offline(tmp_path, tiny_bert_dir, data_dir, out, "--seeds", "1", "2")
    run_files = sorted((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 2  # not both seeds in one run
    seeds = set()
    for run_file in run_files:
        config, history, summary = read_run(run_file)
        seeds.add(config["seed"])
        assert sum("train/loss" in row for row in history) == 4  # this seed's steps only
        result = json.loads((out / f"seed_{config['seed']}" / "results.json").read_text())
        assert summary["eval/matthews_correlation"] == result["eval"]["matthews_correlation"]
    assert seeds == {1, 2}


# --- reading an offline run file back ---

# Read an offline W&B run file (run-*.wandb) back: config, history rows and summary, for the tests.
#
# The file is a LevelDB-style log (a 7-byte ':W&B' header, then 32 KiB blocks of records with 7-byte headers:
# CRC32, length, type), each record a protobuf `wandb_internal_pb2.Record`. wandb 0.2x shipped a Python reader;
# newer releases read it in Go only, so the tests carry this small one.

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _payloads(data: bytes):
    assert data[:4] == b":W&B", "not a W&B run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # block trailer: padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        payload, pos = data[pos + HEADER : pos + HEADER + length], pos + HEADER + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = payload
        elif kind == MIDDLE:
            pending += payload
        elif kind == LAST:
            yield pending + payload


def read_run(path):
    from wandb.proto import wandb_internal_pb2 as pb

    config, history, summary = {}, [], {}
    for payload in _payloads(Path(path).read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            summary.update({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.summary.update})
    return config, history, summary


# --- integrations and the Hub, checked before any data or model is loaded ---

def _cli(tmp_path, *extra):
    """A run whose data folder does not exist: an error about the integration proves it came first."""
    return ["--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(tmp_path / "no-data"), "--output_dir",
            str(tmp_path / "run"), *extra]


def test_a_report_to_integration_that_is_not_installed_is_one_line(tmp_path, capsys):
    import importlib.util

    missing = next(name for name in ("tensorboard", "neptune", "clearml", "mlflow") if importlib.util.find_spec(name) is None)
    assert train.main(_cli(tmp_path, "--report_to", missing)) == 2
    err = capsys.readouterr().err
    assert err == f"error: --report_to {missing}: {missing} is not installed (pip install {missing}), or leave it out\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("env, message", [
    ({"HF_HUB_OFFLINE": "1"}, "error: --push_to_hub with HF_HUB_OFFLINE set: the run could not upload"),
    ({"HF_HUB_OFFLINE": "0", "HF_TOKEN": ""}, "error: --push_to_hub needs Hub credentials: run `hf auth login` or set HF_TOKEN"),
    ({"HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_not_a_real_token", "HF_ENDPOINT": "http://127.0.0.1:9"},
     "error: --push_to_hub: cannot reach the Hub ("),
])
def test_push_to_hub_without_credentials_or_network_is_one_line(tmp_path, capsys, monkeypatch, env, message):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored token
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if "HF_ENDPOINT" in env:
        import huggingface_hub.constants

        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", env["HF_ENDPOINT"])
    assert train.main(_cli(tmp_path, "--push_to_hub", "--hub_model_id", "someone/cola")) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "hf_not_a_real_token" not in err
