"""Two CPU processes (torchrun, gloo): same update as one process, every dev sentence evaluated once; the two
processes cache the frozen layers, the single one does not."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import REPO, tiny_model
from safetensors.torch import load_file

pytestmark = pytest.mark.slow  # torchrun with two processes

# Plain SGD with a constant rate: the update is proportional to the gradient, so a wrong loss scale shows.
# fp32: 'auto' trains in bf16 on a CPU with AMX, whose rounding differs between 2 x 8 x 2 and 1 x 32.
SGD = ["--optim", "sgd", "--learning_rate", "0.5", "--lr_scheduler_type", "constant", "--warmup_steps", "0",
       "--weight_decay", "0", "--max_grad_norm", "0", "--train_sampling_strategy", "sequential", "--precision", "fp32"]


def _train(launcher, out, model_dir, data_dir, batch, accumulation, extra=()):
    argv = [*launcher, "train.py", "--use_cpu", "--model_name_or_path", str(model_dir), "--data_dir", str(data_dir),
            "--output_dir", str(out), "--max_train_samples", "64", "--max_eval_samples", "101", "--max_steps", "2",
            "--per_device_train_batch_size", str(batch), "--gradient_accumulation_steps", str(accumulation),
            "--freeze", "2", "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false", *SGD, *extra]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


# Gradual unfreezing every step, floor 2 (embeddings, layer_00): step 1 trains the head, step 2 head and pooler;
# layer_02 and layer_01 wait (their turns would be steps 3 and 4) and must not move on any process.
GRADUAL = ["--gradual_unfreeze_steps", "1", "--layer_lr_decay", "0.5"]


# LoRA above the floor (2: embeddings, layer_00): adapters in layers 1 and 2, merged into the saved weights.
LORA = ["--lora_r", "4", "--lora_alpha", "16"]

# A rising floor: from 2 groups to 3 (layer_01 joins) after step 1; the two processes grow their caches over it,
# the single process runs it uncached.
RISING = ["--progressive_freeze", "linear", "--progressive_freeze_every", "1", "--progressive_freeze_start", "1"]


@pytest.mark.parametrize("extra", [[], GRADUAL, LORA, RISING], ids=["plain", "gradual_unfreezing", "lora", "rising"])
def test_two_processes_match_one(tmp_path, tiny_bert_dir, data_dir, extra):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    ddp = _train(torchrun, tmp_path / "ddp", tiny_bert_dir, data_dir, batch=8, accumulation=2, extra=extra)
    # The single process runs the frozen layers at every step; the two processes each cache them (the default).
    _train([sys.executable], tmp_path / "single", tiny_bert_dir, data_dir, batch=32, accumulation=1,
           extra=[*extra, "--cache_frozen", "false"])

    initial = {n: p for n, p in tiny_model("bert", layers=3, dropout=0.0).state_dict().items()}
    w_ddp, w_single = load_file(tmp_path / "ddp" / "model.safetensors"), load_file(tmp_path / "single" / "model.safetensors")
    moved = set()
    for name, value in w_single.items():
        torch.testing.assert_close(w_ddp[name], value, rtol=1e-4, atol=1e-6, msg=name)
        if name.startswith(("bert.embeddings.", "bert.encoder.layer.0.")):
            assert torch.equal(w_ddp[name], initial[name]), f"{name} is frozen but moved under DDP"
        if extra == GRADUAL and name.startswith(("bert.encoder.layer.1.", "bert.encoder.layer.2.")):
            assert torch.equal(w_ddp[name], initial[name]), f"{name} moved before its turn under DDP"
        if not torch.equal(value, initial[name]):
            moved.add(name)
    head = {"classifier.weight", "classifier.bias", "bert.pooler.dense.weight", "bert.pooler.dense.bias"}
    if extra == GRADUAL:
        assert moved == head
    elif extra == LORA:  # the merged adapters: query and value weights of layers 1 and 2, nothing else of theirs
        assert moved == head | {f"bert.encoder.layer.{i}.attention.self.{m}.weight" for i in (1, 2) for m in ("query", "value")}
    else:
        assert len(moved) > 10

    r_ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())
    r_single = json.loads((tmp_path / "single" / "results.json").read_text())
    assert r_ddp["class_weights"] == r_single["class_weights"]
    assert r_ddp["frozen_cache"]["used"] and not r_single["frozen_cache"]["used"]
    # each process keeps its own cache; one of them logs (once per prefix: twice where the floor rose)
    assert ddp.stderr.count("Frozen-layer cache: ") == (2 if extra == RISING else 1)
    if extra == RISING:
        assert [e["frozen_groups"] for e in r_ddp["plan"]["progressive"]["events"]] == [
            ["embeddings", "layer_00", "layer_01"]] == [e["frozen_groups"] for e in r_single["plan"]["progressive"]["events"]]
    assert r_ddp["eval"]["n"] == 101  # 101 is odd: a padded duplicate would show as 102
    assert r_ddp["eval_in_domain"]["n"] + r_ddp["eval_out_of_domain"]["n"] == 101
    assert r_ddp["eval"]["matthews_correlation"] == pytest.approx(r_single["eval"]["matthews_correlation"], abs=1e-9)
    assert r_ddp["eval"]["loss"] == pytest.approx(r_single["eval"]["loss"], abs=1e-5)
    assert r_ddp["train"]["steps"] == 2
    # one process speaks and writes: the summary appears once, no stray files
    assert ddp.stderr.count("Layer groups (bottom to top)") == 1
    assert [p.name for p in (tmp_path / "ddp").iterdir() if p.name.startswith(".results")] == []


def test_two_processes_on_own_data_with_pairs_groups_and_a_test_file(tmp_path, tiny_bert_dir):
    """Your own data under DDP: 3 classes, a pair column and groups; every evaluation and test row counted once, and
    test_predictions.csv in file order, as one process writes them."""
    import pandas as pd

    topics = ["billing", "login", "shipping"]
    rows = lambda n, start: pd.DataFrame({  # noqa: E731
        "body": [f"ticket {start + i} about my {['invoice', 'password', 'parcel'][i % 3]}" for i in range(n)],
        "reply": [f"answer {i % 5}" for i in range(n)], "queue": [topics[i % 3] for i in range(n)],
        "channel": [["email", "phone"][(i // 3) % 2] for i in range(n)]})
    for name, n, start in (("train", 48, 0), ("dev", 31, 100), ("test", 17, 200)):  # odd sizes: padding would show
        rows(n, start).to_csv(tmp_path / f"{name}.csv", index=False)
    own = ["--train_file", str(tmp_path / "train.csv"), "--validation_file", str(tmp_path / "dev.csv"), "--test_file",
           str(tmp_path / "test.csv"), "--text_column", "body", "--text_pair_column", "reply", "--label_column", "queue",
           "--group_column", "channel"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29534"]
    common = ["train.py", "--use_cpu", "--model_name_or_path", str(tiny_bert_dir), "--max_steps", "2", "--freeze", "2",
              "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false", *SGD, *own]
    for launcher, out, batch, accumulation in ((torchrun, "ddp", 8, 2), ([sys.executable], "single", 32, 1)):
        argv = [*launcher, *common, "--output_dir", str(tmp_path / out), "--per_device_train_batch_size", str(batch),
                "--gradient_accumulation_steps", str(accumulation)]
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    ddp, single = (json.loads((tmp_path / out / "results.json").read_text()) for out in ("ddp", "single"))
    assert ddp["class_weights"] == single["class_weights"] and len(ddp["class_weights"]) == 3
    assert ddp["eval"]["n"] == 31 and ddp["eval_email"]["n"] + ddp["eval_phone"]["n"] == 31 and ddp["test"]["n"] == 17
    assert ddp["eval"]["loss"] == pytest.approx(single["eval"]["loss"], abs=1e-5)
    predictions = {out: pd.read_csv(tmp_path / out / "test_predictions.csv") for out in ("ddp", "single")}
    assert predictions["ddp"]["text"].tolist() == rows(17, 200)["body"].tolist()
    assert predictions["ddp"]["text_pair"].tolist() == rows(17, 200)["reply"].tolist()
    assert predictions["ddp"]["probability"].tolist() == pytest.approx(predictions["single"]["probability"].tolist(), abs=1e-4)


def test_two_nodes_on_localhost_train_as_one_run(tmp_path, tiny_bert_dir, data_dir):
    """torchrun on two "nodes" (one process each, both on 127.0.0.1, one output folder as on a cluster's shared
    disk) and no --use_cpu: one run of world size 2 (before, each node trained alone and the second was refused the
    folder), one results.json, each dev sentence evaluated once, the weights of one process with the same global
    batch, and one process speaking."""
    common = ["train.py", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--max_train_samples",
              "64", "--max_eval_samples", "101", "--max_steps", "2", "--freeze", "2", "--eval_strategy", "no",
              "--save_strategy", "no", "--load_best_model_at_end", "false", *SGD]
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(rank),
                               "--nproc_per_node", "1", "--master_addr", "127.0.0.1", "--master_port", "29541", *common,
                               "--output_dir", str(tmp_path / "two_nodes"), "--per_device_train_batch_size", "8"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    logs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [log[-3000:] for log in logs]
    single = subprocess.run([sys.executable, *common, "--output_dir", str(tmp_path / "single"),
                             "--per_device_train_batch_size", "16", "--cache_frozen", "false"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    results = json.loads((tmp_path / "two_nodes" / "results.json").read_text())
    assert results["distributed"] == {"world_size": 2, "nodes": 2, "processes_per_node": 1, "global_batch": 16}
    assert results["eval"]["n"] == 101 and results["train"]["steps"] == 2
    w_nodes, w_single = (load_file(tmp_path / out / "model.safetensors") for out in ("two_nodes", "single"))
    for name, value in w_single.items():
        torch.testing.assert_close(w_nodes[name], value, rtol=1e-4, atol=1e-6, msg=name)
    assert sum(log.count("Layer groups (bottom to top)") for log in logs) == 1  # the main node's main process only
    assert "global batch 16 (8 per process x 1 accumulation x 2 processes)" in logs[0]
    assert "x 2 processes on 2 node(s) = 16 per step" in (tmp_path / "two_nodes" / "README.md").read_text()


def test_accelerate_across_machines(tmp_path, tiny_bert_dir, data_dir):
    """`accelerate launch --cpu --num_machines 2` starts one lone process per machine: refused in one line before any
    work. With --multi_gpu (torchrun underneath, on CPUs too) the two "machines" train as one run."""
    common = ["train.py", "--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--max_train_samples",
              "64", "--max_eval_samples", "101", "--max_steps", "2", "--freeze", "2", "--eval_strategy", "no",
              "--save_strategy", "no", "--load_best_model_at_end", "false", "--per_device_train_batch_size", "8", *SGD]

    def launch(how, rank, port, out):
        return [sys.executable, "-m", "accelerate.commands.launch", how, "--num_machines", "2", "--num_processes", "2",
                "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
                *common, "--output_dir", str(out)]

    alone = subprocess.run(launch("--cpu", 0, 29551, tmp_path / "alone"), cwd=REPO, capture_output=True, text=True,
                           timeout=600)
    assert alone.returncode != 0
    refused = [line for line in alone.stderr.splitlines() if line.startswith("error:")]
    assert len(refused) == 1 and "accelerate launch asked for several processes" in refused[0]
    assert "--multi_gpu" in refused[0] and not (tmp_path / "alone").exists()

    nodes = [subprocess.Popen(launch("--multi_gpu", rank, 29552, tmp_path / "together"), cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    logs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [log[-3000:] for log in logs]
    results = json.loads((tmp_path / "together" / "results.json").read_text())
    assert results["distributed"] == {"world_size": 2, "nodes": 2, "processes_per_node": 1, "global_batch": 16}
    assert results["eval"]["n"] == 101 and results["train"]["steps"] == 2


def test_two_processes_decide_a_rising_floor_as_one_does(tmp_path, tiny_bert_dir, data_dir):
    """auto reads the gradients: after DDP's reduction every process sees the same, and the statistics are averaged
    over the processes all the same, so 2 processes freeze what 1 process freezes, at the same steps."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29535"]
    auto = ["--progressive_freeze", "auto", "--progressive_freeze_every", "1", "--progressive_freeze_start", "2",
            "--max_steps", "6", "--freeze", "0"]
    _train(torchrun, tmp_path / "ddp", tiny_bert_dir, data_dir, batch=8, accumulation=2, extra=auto)
    _train([sys.executable], tmp_path / "single", tiny_bert_dir, data_dir, batch=32, accumulation=1, extra=auto)
    events = {out: json.loads((tmp_path / out / "results.json").read_text())["plan"]["progressive"]["events"]
              for out in ("ddp", "single")}
    assert events["ddp"] and [(e["step"], e["frozen_groups"]) for e in events["ddp"]] == [
        (e["step"], e["frozen_groups"]) for e in events["single"]]
    w_ddp, w_single = load_file(tmp_path / "ddp" / "model.safetensors"), load_file(tmp_path / "single" / "model.safetensors")
    for name, value in w_single.items():
        torch.testing.assert_close(w_ddp[name], value, rtol=1e-4, atol=1e-6, msg=name)



@pytest.mark.parametrize("environ, expected", [
    ({"ACCELERATE_MIXED_PRECISION": "no", "OMP_NUM_THREADS": "1"}, 8),  # accelerate launch, one CPU process
    ({"ACCELERATE_MIXED_PRECISION": "no", "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2"}, None),  # one of several
    ({"ACCELERATE_MIXED_PRECISION": "no", "OMP_NUM_THREADS": "3"}, None),  # threads the user chose
    ({"OMP_NUM_THREADS": "1"}, None),  # not accelerate's doing
])
def test_a_lone_cpu_process_accelerate_held_to_one_thread_gets_every_core(environ, expected):
    from cola.training_options import lone_process_threads

    assert lone_process_threads(environ, cores=8, gpu=False) == expected
    assert lone_process_threads(environ, cores=8, gpu=True) is None


def test_train_py_under_accelerates_one_thread_uses_every_core(monkeypatch, tmp_path):
    import torch

    import train

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr("psutil.cpu_count", lambda logical=True: 3)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        # stops right after parsing: nothing to resume in the folder
        assert train.main(["--output_dir", str(tmp_path / "o"), "--resume_from_checkpoint", "last"]) == 2
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
