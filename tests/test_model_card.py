"""The model card (README.md in the output folder): what it says about a real CoLA run, that its reproduce command
replays the run, that --push_to_hub would upload it, and that a user's own README.md is never written over."""

import json
import re

import pytest
from conftest import tiny_model, training_args
from huggingface_hub import ModelCard

import train
from cola.model_card import TAG, is_suite_card, model_card
from cola.output_dir import remove_run_files
from cola.recipes import parse_args, resolved_config


@pytest.fixture(scope="module")
def card(trained_run):
    return ModelCard.load(trained_run / "README.md"), json.loads((trained_run / "results.json").read_text())


def test_metadata_names_the_base_model_the_data_and_the_scores(card, trained_run):
    loaded, results = card
    data = loaded.data
    assert TAG in data.tags and data.library_name == "transformers" and data.pipeline_tag == "text-classification"
    assert data.base_model == "sentence-transformers/all-MiniLM-L6-v2" and data.datasets == ["nyu-mll/glue"]
    assert data.license == "apache-2.0"  # the packaged base model's own card says so
    # evaluated on 120 of GLUE dev's 1043 sentences: no score is claimed for the split, and the text says why
    assert data.eval_results is None and "On a random subset of 120 evaluation rows (`--max_eval_samples`)" in loaded.text
    whole = {**results, "config": {**results["config"], "max_eval_samples": None}}
    found = ModelCard(model_card(whole, argv=(), output_dir=str(trained_run))).data.eval_results
    assert {r.metric_type: r.metric_value for r in found} == {
        "matthews_correlation": results["eval"]["matthews_correlation"], "accuracy": results["eval"]["accuracy"]}
    assert {(r.dataset_config, r.dataset_split) for r in found} == {("cola", "validation")}


def test_the_card_names_the_base_model_results_json_recorded(trained_run):
    """The card is written from results.json alone: the base model's Hub id and license as the run recorded them
    (no packaged-model table, which may unpack a model, at card time)."""
    results = json.loads((trained_run / "results.json").read_text())
    assert results["base_model"] == {"name": "all-MiniLM-L6-v2", "hub_id": "sentence-transformers/all-MiniLM-L6-v2",
                                     "license": "apache-2.0"}
    recorded = {**results, "base_model": {"name": "x", "hub_id": "org/other", "license": "bsd-3-clause"}}
    data = ModelCard(model_card(recorded, argv=(), output_dir=str(trained_run))).data
    assert data.base_model == "org/other" and data.license == "bsd-3-clause"


def test_license_option_hub_id_and_local_dataset_folders(card, trained_run, tmp_path):
    _, results = card
    config = {**results["config"], "license": "mit", "push_to_hub": True, "hub_model_id": "ana/cola-minilm"}
    text = model_card({**results, "config": config}, argv=(), output_dir=str(trained_run))
    loaded = ModelCard(text)
    assert loaded.data.license == "mit" and 'pipeline("text-classification", model="ana/cola-minilm")' in text
    local = {**config, "dataset_name": str(tmp_path), "train_file": None}  # a folder `datasets` reads: no Hub id
    assert ModelCard(model_card({**results, "config": local}, argv=(), output_dir=str(trained_run))).data.datasets is None


def test_the_saved_tokenizer_truncates_as_training_did(trained_run):
    assert json.loads((trained_run / "tokenizer_config.json").read_text())["model_max_length"] == 64


def test_body_states_data_labels_scores_freezing_lr_and_seed(card, trained_run):
    loaded, results = card
    text = loaded.text
    assert "on CoLA (" in text and "GLUE's validation set (in_domain_dev + out_of_domain_dev)" in text
    assert "- Classes (id: name): 0: unacceptable, 1: acceptable" in text
    assert "- Rows: train 96, eval 120" in text
    for section, name in (("eval", "evaluation (all)"), ("eval_in_domain", "eval in_domain"),
                          ("eval_out_of_domain", "eval out_of_domain")):
        s = results[section]
        assert (f"| {name} | {s['n']} | {s['matthews_correlation']:.4f} | {s['accuracy']:.4f} | {s['f1_macro']:.4f} "
                f"| {s['loss']:.4f} |") in text
    assert f"unacceptable {results['eval']['f1_unacceptable']:.4f}, acceptable {results['eval']['f1_acceptable']:.4f}" in text
    assert "- Freezing: bottom 2 of 8 layer groups frozen (embeddings, layer_00; method requires_grad" in text
    assert "- Learning rate: peak 5e-05, linear schedule" in text
    assert "- Seed: 7;" in text


def test_the_reproduce_command_replays_the_run(card, trained_run, monkeypatch):
    """Run beside the folder: the card is read on the Hub or where the folder is, where no absolute path of this
    machine means anything (only the command the run was started with quotes the paths as the user gave them)."""
    text = card[0].text
    command = re.search(r"python train.py (--recipe \S+ --output_dir \S+)\n", text).group(1).split()
    assert command == ["--recipe", "run/run_config.json", "--output_dir", "run-again"]
    assert 'pipeline("text-classification", model="run")' in text
    monkeypatch.chdir(trained_run.parent)
    replay = resolved_config(parse_args(command))
    recorded = json.loads((trained_run / "run_config.json").read_text())
    differs = {k for k in recorded if recorded[k] != replay.get(k)}
    assert differs == {"schema_version", "description", "output_dir"}  # the file's version is not an option
    started = re.search(r"This run was started with:\n\n```bash\npython train.py (.*)\n```", text).group(1)
    assert "--freeze 2" in started and "--seed 7" in started


def test_push_to_hub_would_upload_the_suites_card(tmp_path, tokenizer):
    from conftest import LABELS, SENTENCES, make_trainer, tiny_dataset

    trainer = make_trainer(tiny_model("bert", layers=2), training_args(tmp_path), tokenizer,
                           tiny_dataset(tokenizer, SENTENCES, LABELS))
    trainer.model_card = "---\ntags:\n- cola-suite\n---\n\n# the suite's card\n"
    trainer.create_model_card(model_name="x", finetuned_from="y")  # what Trainer.push_to_hub calls before uploading
    assert (tmp_path / "out" / "README.md").read_text() == trainer.model_card


def test_a_users_readme_is_never_written_over_or_deleted(tmp_path, tiny_bert_dir, data_dir, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("# my notes\n")
    argv = ["--model_name_or_path", str(tiny_bert_dir), "--data_dir", str(data_dir), "--output_dir", str(out)]
    assert train.main(argv) == 2
    assert "README.md is not a model card this suite wrote" in capsys.readouterr().err
    assert (out / "README.md").read_text() == "# my notes\n" and not is_suite_card(out / "README.md")
    assert remove_run_files(out) == [] and (out / "README.md").exists()  # --overwrite_run leaves it too


def test_overwrite_run_deletes_the_suites_own_card(trained_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    assert is_suite_card(copy / "README.md")
    assert "README.md" in remove_run_files(copy) and not (copy / "README.md").exists()
