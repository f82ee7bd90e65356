"""`cola.packaged`: the table of models shipped inside PyPI packages (names, package, folder, Hub id)."""

from pathlib import Path

from cola.packaged import PACKAGED_MODELS, hub_id, packaged_model


def test_names_select_a_row_without_case():
    row = packaged_model("All-MiniLM-L6-v2")
    assert row is PACKAGED_MODELS[0] and packaged_model("sentence-transformers/all-MiniLM-L6-v2") is row
    assert packaged_model("bert-base-uncased") is None
    assert (Path(row.folder()) / "config.json").is_file()  # the installed package's folder


def test_the_card_links_the_hub_id(tmp_path):
    assert hub_id("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert hub_id("bert-base-uncased") == "bert-base-uncased"
    assert hub_id(str(tmp_path)) is None  # a local folder: nothing on the Hub to link
    (tmp_path / "all-MiniLM-L6-v2").mkdir()
    assert packaged_model(str(tmp_path / "all-MiniLM-L6-v2")) is None  # a folder of that name is a folder
