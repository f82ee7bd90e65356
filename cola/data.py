"""CoLA's raw TSVs -> validated, tokenized `datasets`.

The raw files have no header and four tab-separated columns: source, label (0/1), the author's original
judgment (`*`, `?`, or empty), sentence. Quoting is disabled: a sentence may start with `"` and must survive.

Evaluation defaults to GLUE's validation set (in_domain_dev + out_of_domain_dev, 1043 sentences). Every example
carries a `domain` column (0 in-domain, 1 out-of-domain) so metrics can be split per domain whatever order the
sampler or the distributed gather puts the predictions in.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from .errors import CliError, first_line

logger = logging.getLogger(__name__)

TRAIN_FILE = "in_domain_train.tsv"
DEV_FILES = {"in_domain": "in_domain_dev.tsv", "out_of_domain": "out_of_domain_dev.tsv"}
DOMAINS = ("in_domain", "out_of_domain")  # index = the value of the `domain` column
RAW_COLUMNS = ("source", "label", "original_judgment", "sentence")  # the raw TSVs, which have no header

# The label contract, defined here once and imported by config, metrics, the trainer and the tests:
LABEL_NAMES = ("unacceptable", "acceptable")  # class names, in label order (label 0, label 1)
# Columns the Trainer treats as labels (its `label_names`): the class and the sentence's domain, so the metrics
# can be split per domain whatever order the predictions come back in.
LABEL_COLUMNS = ("labels", "domain")
# Columns that travel with a batch but never reach the model's forward(): the labels and the length that
# length-grouped sampling reads.
NON_MODEL_COLUMNS = (*LABEL_COLUMNS, "length")

FEATURES = datasets.Features(
    {"source": datasets.Value("string"), "label": datasets.Value("int64"),
     "original_judgment": datasets.Value("string"), "sentence": datasets.Value("string")}
)

CoLA_URL = "https://nyu-mll.github.io/CoLA/cola_public_1.1.zip"
# Row counts from CoLA's own README: how a download is checked (the site publishes no checksum).
EXPECTED_ROWS = {TRAIN_FILE: 8551, DEV_FILES["in_domain"]: 527, DEV_FILES["out_of_domain"]: 516}
DATA_DIR_ENV = "COLA_DATA_DIR"


@dataclass
class ColaData:
    train: datasets.Dataset
    eval: datasets.Dataset
    data_dir: Path

    def class_counts(self) -> list[int]:
        return np.bincount(np.asarray(self.train["labels"]), minlength=len(LABEL_NAMES)).tolist()

    def domain_sizes(self) -> dict[str, int]:
        counts = np.bincount(np.asarray(self.eval["domain"]), minlength=len(DOMAINS))
        return {name: int(n) for name, n in zip(DOMAINS, counts) if n}


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


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cola-suite"


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
    if path.is_dir():
        raise CliError(f"{path}: a directory, not a file")
    if not path.exists():
        raise CliError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror})") from None
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


def decode_lines(raw: bytes, source: str) -> list[str]:
    """UTF-8 bytes -> lines (a byte-order mark, CRLF line ends and a final newline allowed); a byte that is not
    UTF-8 is a one-line error naming `source` and the line."""
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # what follows the final newline
    decoded = []
    for lineno, line in enumerate(lines, start=1):
        try:
            decoded.append(line.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as error:
            bad = f"byte {line[error.start]:#04x} at offset {error.start}"
            raise CliError(f"{source}:{lineno}: not UTF-8 text ({bad}); save the file as UTF-8") from None
    return decoded


def read_tsv(path: Path, domain: int) -> datasets.Dataset:
    """A raw CoLA file as a dataset with `labels` and `domain` columns.

    Built in memory from the checked rows: nothing is cached on disk under a key of the file's name, size or
    modification time, so an edited file is always read as it is now.
    """
    rows = validate_tsv(path)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(RAW_COLUMNS)}
    columns["label"] = [int(label) for label in columns["label"]]
    dataset = datasets.Dataset.from_dict(columns, features=FEATURES)
    dataset = dataset.rename_column("label", "labels")
    return dataset.add_column("domain", [domain] * len(dataset))


def load_cola(data_args, seed: int) -> ColaData:
    """Train and evaluation splits as raw text (not yet tokenized)."""
    data_dir = resolve_data_dir(data_args.data_dir)
    train = read_tsv(data_dir / TRAIN_FILE, domain=0)
    if data_args.eval_split == "holdout":
        # The notebook's protocol: a stratified, seeded hold-out of the training file.
        try:
            split = train.class_encode_column("labels").train_test_split(
                test_size=data_args.holdout_fraction, stratify_by_column="labels", seed=seed
            )
        except ValueError as error:  # a fraction that leaves a split without a sentence of each class
            raise CliError(f"--holdout_fraction {data_args.holdout_fraction} cannot split {len(train)} training "
                           f"sentences into two non-empty stratified parts ({first_line(error)})") from None
        train, evaluation = (s.cast_column("labels", datasets.Value("int64")) for s in (split["train"], split["test"]))
    else:
        evaluation = datasets.concatenate_datasets(
            [read_tsv(data_dir / DEV_FILES[name], domain=i) for i, name in enumerate(DOMAINS)]
        )
    train = _subsample(train, data_args.max_train_samples, seed)
    evaluation = _subsample(evaluation, data_args.max_eval_samples, seed)
    warn_about(train, evaluation)
    return ColaData(train=train, eval=evaluation, data_dir=data_dir)


def warn_about(train: datasets.Dataset, evaluation: datasets.Dataset) -> list[str]:
    """Warnings, not errors: data that trains but whose figures should be read with care. Returns them."""
    warnings = []
    if len(set(evaluation["labels"])) < 2:
        warnings.append("the evaluation set has one class only: MCC is 0 whatever the model predicts")
    sentences = train["sentence"]
    duplicates = len(sentences) - len(set(sentences))
    if duplicates:
        warnings.append(f"{duplicates} training sentence(s) occur more than once")
    leaked = len(set(evaluation["sentence"]) & set(sentences))
    if leaked:
        warnings.append(f"{leaked} evaluation sentence(s) also occur in the training split: their scores are flattered")
    for warning in warnings:
        logger.warning("Data: %s", warning)
    return warnings


def tokenize(data: ColaData, tokenizer, max_length: int) -> ColaData:
    """Tokenize once (batched, cached by `datasets`); padding happens per batch in the collator."""

    def encode(batch):
        encoded = tokenizer(batch["sentence"], truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]  # read by group_by_length sampling
        return encoded

    def run(dataset, name):
        return dataset.map(
            encode,
            batched=True,
            remove_columns=["source", "original_judgment", "sentence"],
            desc=f"Tokenizing {name}",
        )

    return ColaData(train=run(data.train, "train"), eval=run(data.eval, "eval"), data_dir=data.data_dir)


def _subsample(dataset: datasets.Dataset, n: int | None, seed: int) -> datasets.Dataset:
    if n is None or n >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(n))
