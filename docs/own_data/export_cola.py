"""Export CoLA as "your own data": the worked offline example of --train_file and friends.

    python docs/own_data/export_cola.py --data_dir ../shared/cola/raw --out data/cola_export

writes, from CoLA's raw TSVs (in the same row order: training file; in-domain dev, then out-of-domain dev):
- train.csv, dev.csv: columns sentence, judgment ("acceptable"/"unacceptable": string labels), domain;
- train.jsonl, dev.jsonl: columns sentence, label (0/1), domain, and source (the paper a sentence comes from), a
  second text with which to try the sentence-pair path (--text_pair_column source);
- train.parquet, dev.parquet: the same rows and columns as the JSON Lines files.

Trained with the CSV files, `--label_column judgment --class_names unacceptable acceptable --group_column domain`,
the suite sees the very sentences, labels and domains of the CoLA path, so the same seed gives identical metrics
(tests/test_user_data.py checks it). Without --class_names the string labels would be sorted alphabetically and
"acceptable" would become class 0. CoLA's files are never committed: this script reads them from --data_dir.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pandas as pd

RAW_COLUMNS = ["source", "label", "original_judgment", "sentence"]  # CoLA's raw TSVs have no header
DEV_FILES = [("in_domain_dev.tsv", "in_domain"), ("out_of_domain_dev.tsv", "out_of_domain")]


def read_raw(path: Path, domain: str) -> pd.DataFrame:
    # QUOTE_NONE and no NA parsing: a sentence may start with '"', and "NA" is a sentence, not a missing value.
    frame = pd.read_csv(path, sep="\t", header=None, names=RAW_COLUMNS, quoting=csv.QUOTE_NONE, keep_default_na=False,
                        dtype={"sentence": str, "source": str})
    return frame.assign(domain=domain)


def export(data_dir: Path, out: Path) -> list[Path]:
    splits = {
        "train": read_raw(data_dir / "in_domain_train.tsv", "in_domain"),
        "dev": pd.concat([read_raw(data_dir / name, domain) for name, domain in DEV_FILES], ignore_index=True),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in splits.items():
        frame = frame.assign(judgment=frame["label"].map({0: "unacceptable", 1: "acceptable"}))
        written.append(out / f"{name}.csv")
        frame[["sentence", "judgment", "domain"]].to_csv(written[-1], index=False)
        columns = frame[["sentence", "label", "domain", "source"]]
        written.append(out / f"{name}.jsonl")
        columns.to_json(written[-1], orient="records", lines=True, force_ascii=False)
        written.append(out / f"{name}.parquet")
        columns.to_parquet(written[-1], index=False)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, help="CoLA's raw/ folder (in_domain_train.tsv, ...).")
    parser.add_argument("--out", required=True, help="Folder to write the exported files into (created if needed).")
    args = parser.parse_args(argv)
    data_dir, out = Path(args.data_dir), Path(args.out)
    if not (data_dir / "in_domain_train.tsv").is_file():
        parser.error(f"{data_dir}: no in_domain_train.tsv there (give CoLA's raw/ folder)")
    existing = [p.name for p in out.glob("*") if p.stem in ("train", "dev")] if out.is_dir() else []
    if existing:
        parser.error(f"{out} already holds {', '.join(sorted(existing))}; choose another --out")
    for path in export(data_dir, out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
