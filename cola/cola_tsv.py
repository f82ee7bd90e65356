"""CoLA's raw TSVs, checked row by row, as datasets in the suite's columns (`cola.data` holds the contract).

The raw files have no header and four tab-separated columns: source, label (0/1), the author's original
judgment (`*`, `?`, or empty), sentence. Quoting is disabled: a sentence may start with `"` and must survive.

Evaluation defaults to GLUE's validation set (in_domain_dev + out_of_domain_dev, 1043 sentences); each sentence's
domain is its group (0 in-domain, 1 out-of-domain), so metrics are reported per domain.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import datasets

from .columns import GROUP, LABEL, TEXT, TaskData
from .errors import CliError
from .files import DATA_DIR_ENV, cache_dir, decode_lines, read_data_file

logger = logging.getLogger(__name__)

TRAIN_FILE = "in_domain_train.tsv"
DEV_FILES = {"in_domain": "in_domain_dev.tsv", "out_of_domain": "out_of_domain_dev.tsv"}
DOMAINS = ("in_domain", "out_of_domain")  # index = the value of the group column
RAW_COLUMNS = ("source", "label", "original_judgment", "sentence")  # the raw TSVs, which have no header
CLASS_NAMES = ("unacceptable", "acceptable")  # CoLA's classes, in label order (label 0, label 1)
FEATURES = datasets.Features(
    {TEXT: datasets.Value("string"), LABEL: datasets.Value("int64"), GROUP: datasets.Value("int64")}
)

CoLA_URL = "https://nyu-mll.github.io/CoLA/cola_public_1.1.zip"
# Row counts from CoLA's own README: how a download is checked (the site publishes no checksum).
EXPECTED_ROWS = {TRAIN_FILE: 8551, DEV_FILES["in_domain"]: 527, DEV_FILES["out_of_domain"]: 516}


def resolve_data_dir(data_dir: str | None) -> Path:
    """--data_dir, else $COLA_DATA_DIR, else the cached download (downloading it the first time)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_dir():
            source = "--data_dir" if data_dir else f"${DATA_DIR_ENV}"
            what = "not a directory" if path.exists() else "no such directory"
            raise CliError(f"{path}: {what} (from {source})")
        return path
    return download_cola()


def download_cola(url: str | None = None, cache: Path | None = None) -> Path:
    """Fetch the official CoLA archive once, check it, extract it into the cache; return its raw/ folder."""
    url = url or CoLA_URL
    cache = cache or cache_dir()
    raw = cache / "cola_public" / "raw"
    if all((raw / name).is_file() for name in EXPECTED_ROWS):
        return raw
    cache.mkdir(parents=True, exist_ok=True)
    logger.info("CoLA not found locally; downloading %s", url)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        archive = Path(tmp) / "cola_public_1.1.zip"
        try:
            with urllib.request.urlopen(url, timeout=30) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CliError(
                f"CoLA is not available locally and could not be downloaded from {url} ({reason}); "
                f"pass --data_dir pointing at CoLA's raw/ folder (or set ${DATA_DIR_ENV})"
            ) from None
        try:
            with zipfile.ZipFile(archive) as zf:
                if zf.testzip() is not None:
                    raise zipfile.BadZipFile("a member fails its CRC check")
                zf.extractall(tmp)
        except zipfile.BadZipFile as error:
            raise CliError(f"the CoLA archive from {url} is damaged ({error}); try again or pass --data_dir") from None
        extracted = Path(tmp) / "cola_public" / "raw"
        for name, expected in EXPECTED_ROWS.items():
            rows = len(validate_tsv(extracted / name))
            if rows != expected:
                raise CliError(f"the CoLA archive from {url} has {rows} rows in {name}, expected {expected}")
        shutil.rmtree(cache / "cola_public", ignore_errors=True)
        shutil.move(str(Path(tmp) / "cola_public"), cache / "cola_public")
    logger.info("CoLA extracted to %s", raw)
    return raw


def validate_tsv(path: Path) -> list[list[str]]:
    """Read a raw CoLA file and check every row; return its rows (source, label, original judgment, sentence).

    Read here, not by pandas, because pandas reports a short row as missing values, skips blank lines and decodes
    the whole file at once: only here do errors get the file's own line numbers.
    """
    raw = read_data_file(path)
    rows = []
    for lineno, text in enumerate(decode_lines(raw, str(path)), start=1):
        fields = text.split("\t")
        if len(fields) != len(RAW_COLUMNS):
            raise CliError(f"{path}:{lineno}: expected {len(RAW_COLUMNS)} tab-separated columns, found {len(fields)}")
        if fields[1] not in ("0", "1"):
            raise CliError(f"{path}:{lineno}: label must be 0 or 1, found {fields[1]!r}")
        if not fields[3].strip():
            raise CliError(f"{path}:{lineno}: empty sentence")
        rows.append(fields)
    if not rows:
        raise CliError(f"{path}: empty file")
    return rows


def read_tsv(path: Path, domain: int) -> datasets.Dataset:
    """A raw CoLA file as a dataset in the suite's columns (`cola.columns`; the group is the domain).

    Built in memory from the checked rows: nothing is cached on disk under a key of the file's name, size or
    modification time, so an edited file is always read as it is now.
    """
    rows = validate_tsv(path)
    return datasets.Dataset.from_dict(
        {TEXT: [row[3] for row in rows], LABEL: [int(row[1]) for row in rows], GROUP: [domain] * len(rows)},
        features=FEATURES,
    )


def read_cola(data_dir: str | None) -> TaskData:
    """CoLA's training file and GLUE's dev set (both domains, in that order) from --data_dir (or its defaults)."""
    path = resolve_data_dir(data_dir)
    train = read_tsv(path / TRAIN_FILE, domain=0)
    dev = datasets.concatenate_datasets([read_tsv(path / DEV_FILES[name], domain=i) for i, name in enumerate(DOMAINS)])
    return TaskData(train=train, eval=dev, test=None, class_names=CLASS_NAMES, group_names=DOMAINS,
                    source=f"CoLA ({path})", labels_read_as="CoLA's 0 and 1, as class ids")
