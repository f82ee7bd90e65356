"""Your own labelled texts, from local files or a Hub dataset, checked and put into the suite's columns.

Files: `--train_file` and `--validation_file` (and an optional `--test_file`), each .csv, .tsv, .jsonl (or
.json) or .parquet, read through `datasets`. CSV and TSV files have a header row and the usual CSV quoting (write
them with pandas' `to_csv`, with `sep="\\t"` for TSV); an empty cell is empty, but a cell reading `NA` or `null` is
that text. Hub: `--dataset_name` (a Hub id, or a local folder `datasets.load_dataset` reads) with
`--dataset_config_name` and the split names.

Every file is read whole before any model is loaded, and each problem is a one-line error naming the file (or
split), the row (the N-th data row, header not counted) and the column: a missing column, an empty text, a label
the training split does not have, fewer than two classes, an empty split, a file that is not UTF-8, a cell
starting with a double quote that CSV quoting would read otherwise than it was written (`check_quoting`).

Labels may be integers or strings. The label set is read from the training split (sorted: numbers by value,
strings alphabetically) unless `--class_names` gives it: then string labels must be among those names (class id =
position in the list) and integer labels are the class ids themselves. A Hub `ClassLabel` column brings its own
names. Rows whose label is -1 in a `ClassLabel` column are unlabelled (GLUE's test splits).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import tempfile
from pathlib import Path

import datasets

from .columns import GROUP, LABEL, TEXT, TEXT_PAIR, TaskData
from .errors import CliError, on_one_line
from .files import check_data_file, decode_lines, read_data_file
from .hub import offline_unless_reachable

logger = logging.getLogger(__name__)

# file suffix -> (the `datasets` builder that reads it, its options)
FORMATS = {
    # keep_default_na: a text reading "NA" or "null" stays text; utf-8-sig: a byte-order mark (Excel writes one) is
    # not part of the first column's name
    ".csv": ("csv", {"keep_default_na": False, "encoding": "utf-8-sig"}),
    ".tsv": ("csv", {"keep_default_na": False, "encoding": "utf-8-sig", "sep": "\t"}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
    ".parquet": ("parquet", {}),
}
UNLABELLED = -1  # a ClassLabel column's value for "no label" (GLUE's test splits)


class Split:
    """One split as read: its rows and where they came from, in words ("data/train.csv", "glue/sst2 split 'train'")."""

    def __init__(self, name: str, rows: datasets.Dataset, where: str):
        self.name, self.rows, self.where = name, rows, where  # name: 'train', 'eval' or 'test'

    def problem(self, row: int | None, column: str | None, message: str) -> CliError:
        at = "".join([f", row {row + 1}" if row is not None else "", f", column '{column}'" if column else ""])
        return CliError(f"{self.where}{at}: {message}")


def read_user_data(args) -> TaskData:
    """The splits the data options name, checked, in the suite's columns, with their label and group names: the
    splits as a `TaskData` (with eval_split holdout, its `eval` is empty: `cola.data.load_data` holds it out)."""
    raw = read_splits(args)
    for name, split in raw.items():
        if len(split.rows) == 0:
            raise split.problem(None, None, "no rows (an empty split)")
        wanted = [args.text_column, args.text_pair_column, args.group_column]
        if name != "test":
            wanted.append(args.label_column)
        for column in filter(None, wanted):
            if column not in split.rows.column_names:
                raise split.problem(None, column, f"no such column (the columns are: {', '.join(split.rows.column_names)})")
    test = raw.get("test")
    test_labelled = test is not None and args.label_column in test.rows.column_names
    # Each labelled split's label cells, read and checked once (as ints or strs, or a ClassLabel's ids).
    label_cells = {name: _label_cells(split, args.label_column) for name, split in raw.items() if name != "test" or test_labelled}
    labels = label_set(raw["train"], args.label_column, args.class_names, label_cells["train"])
    groups = group_set(raw.values(), args.group_column)
    converted = {name: convert(split, args, labels, groups, label_cells.get(name)) for name, split in raw.items()}
    present = sorted(set(converted["train"][LABEL]))
    if len(present) < 2:
        raise raw["train"].problem(None, args.label_column, f"the training split has one class only "
                                   f"({', '.join(labels.names[i] for i in present)}); a classifier needs two or more")
    if test_labelled and UNLABELLED in converted["test"][LABEL]:
        if set(converted["test"][LABEL]) != {UNLABELLED}:
            raise test.problem(None, args.label_column, "some rows are labelled and some not (-1); label all or none")
        test_labelled = False  # a Hub test split whose labels are all hidden (GLUE's)
    return TaskData(
        train=converted["train"], eval=converted.get("eval", converted["train"].select([])), test=converted.get("test"),
        class_names=labels.names, group_names=tuple(groups.values()) or ("all",), source=describe_source(args),
        test_labelled=test_labelled, labels_read_as=labels.how,
    )


def describe_source(args) -> str:
    if args.dataset_name:
        config = f" ({args.dataset_config_name})" if args.dataset_config_name else ""
        return f"{args.dataset_name}{config}"
    return ", ".join(f for f in (args.train_file, args.validation_file, args.test_file) if f)


def read_splits(args) -> dict[str, Split]:
    """name ('train', 'eval', 'test') -> the split as read. 'eval' is absent when it is held out of 'train'."""
    holdout = args.eval_split == "holdout"
    if args.dataset_name:
        names = {"train": args.train_split, "eval": None if holdout else args.validation_split, "test": args.test_split}
        return {key: read_hub(key, args.dataset_name, args.dataset_config_name, split)
                for key, split in names.items() if split}
    files = {"train": args.train_file, "eval": args.validation_file, "test": args.test_file}
    texts = [column for column in (args.text_column, args.text_pair_column) if column]
    values = [column for column in (args.label_column, args.group_column) if column]
    return {key: read_file(key, path, texts=texts, values=values) for key, path in files.items() if path}


def read_file(name: str, path_text: str, *, texts=(), values=()) -> Split:
    """One file's rows. `texts` and `values` (labels, groups): the columns a JSON file's own reader types strictly."""
    path = Path(path_text).expanduser()
    if path.suffix.lower() not in FORMATS:
        raise CliError(f"{path}: cannot tell its format from the name; use .csv, .tsv, .jsonl, .json or .parquet")
    builder, options = FORMATS[path.suffix.lower()]
    if builder == "parquet":
        check_data_file(path)
        if _parquet_rows(path) == 0:  # datasets' own word for it is "BatchSize must be greater than 0"
            raise CliError(f"{path}: no rows (an empty split)")
    else:  # a byte that is not UTF-8: a one-line error naming its line
        lines = decode_lines(read_data_file(path), str(path))
        if builder == "json":
            return Split(name, json_rows(lines, str(path), texts=texts, values=values), str(path))
        if builder == "csv":
            check_quoting(lines, str(path), options.get("sep", ","))
            # Every cell as written: a label `01` stays `01` (not the number 1, one class with `1`), a text `1.50`
            # stays `1.50`. Which labels are class ids is label_set's to say.
            header = next(csv.reader(lines[:1], delimiter=options.get("sep", ",")), [])
            options = options | {"features": datasets.Features({name: datasets.Value("string") for name in header})}
    # A throw-away cache: the rows are read now, as the file is now, and kept in memory; nothing is cached under a
    # key of the file's name or date that an edited file could be mistaken for.
    with tempfile.TemporaryDirectory(prefix="cola-data-") as cache:
        try:
            rows = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache,
                                         keep_in_memory=True, **options)
        except Exception as error:  # noqa: BLE001 - pandas, pyarrow and datasets each raise their own kinds
            if "corresponds to no data" in str(error):  # datasets' word for a file of no rows (a header only)
                raise CliError(f"{path}: no rows (an empty split)") from None
            cause = error.__cause__ or error.__context__ or error
            raise CliError(f"{path}: cannot read it as {path.suffix.lower()[1:].upper()} ({on_one_line(cause)})") from None
    return Split(name, rows, str(path))


def json_rows(lines: list[str], where: str, *, texts, values) -> datasets.Dataset:
    """A JSON Lines file (or one JSON array) of objects, read with the standard library, so that every value keeps
    the kind it was written as: `datasets`' JSON reader types a mixed column as JSON and decodes its strings, so a
    label "01" became the class 1 and a text "null" or "[1, 2]" stopped being text. A label or group column takes
    integers or strings, one kind (as CSV's labels are strings); a text column strings (numbers are written out)."""
    text = "\n".join(lines)
    try:
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = []
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    records.append(_json_line(line, where, number))
    except json.JSONDecodeError as error:
        raise CliError(f"{where}: cannot read it as JSON ({error})") from None
    if not records:
        raise CliError(f"{where}: no rows (an empty split)")
    names: dict[str, None] = {}
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise CliError(f"{where}, row {row}: not an object of columns ({json.dumps(record)[:40]})")
        names.update(dict.fromkeys(record))
    columns, features = {}, {}
    for name in names:
        cells = [record.get(name) for record in records]
        if name in texts:
            columns[name], features[name] = [_json_text(where, row, name, v) for row, v in enumerate(cells)], "string"
        elif name in values:
            columns[name], features[name] = _json_values(where, name, cells)
        else:  # a column the run does not read: kept (its name is listed in errors), as written
            columns[name], features[name] = [None if v is None else json.dumps(v) for v in cells], "string"
    return datasets.Dataset.from_dict(columns, features=datasets.Features(
        {name: datasets.Value(kind) for name, kind in features.items()}))


def _json_line(line: str, where: str, number: int):
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise CliError(f"{where}:{number}: cannot read it as JSON Lines ({error})") from None


def _json_text(where: str, row: int, column: str, value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a text written as a number
    if value is None or isinstance(value, str):
        return value  # (an empty one is refused with its row when the split is converted)
    raise CliError(f"{where}, row {row + 1}, column '{column}': not a text ({json.dumps(value)[:40]})")


def _json_values(where: str, column: str, cells: list) -> tuple[list, str]:
    """A label or group column: integers (an integral number such as 2.0 is 2) or strings, not both."""
    kept, kinds = [], set()
    for row, value in enumerate(cells):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value is not None and not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))):
            raise CliError(f"{where}, row {row + 1}, column '{column}': a label must be an integer or a string, "
                           f"found {json.dumps(value)[:40]}")
        if value is not None:
            kinds.add(type(value))
        kept.append(value)
    if len(kinds) > 1:
        first_text = next(row for row, value in enumerate(kept) if isinstance(value, str))
        raise CliError(f"{where}, column '{column}': labels mix integers and strings (row {first_text + 1}: "
                       f"{json.dumps(kept[first_text])[:40]}); use one kind")
    return kept, "int64" if kinds == {int} else "string"


def _parquet_rows(path: Path) -> int | None:
    """How many rows a Parquet file's footer says it holds (None where it cannot be read: the reader says why)."""
    import pyarrow.parquet

    try:
        return pyarrow.parquet.read_metadata(path).num_rows
    except (OSError, ValueError, pyarrow.ArrowException):
        return None


def check_quoting(lines: list[str], source: str, separator: str) -> None:
    """A one-line error where CSV quoting would merge rows or drop characters without a word.

    The reader follows CSV quoting, in TSV files too: a cell that starts with a double quote runs to the next quote.
    In a file written by joining cells with tabs, `"Yes," he said.` loses its quotes and `"Hello.` swallows every row
    up to the next quote. Python's csv module in strict mode names both (a quote not followed by the separator, a
    quote never closed); a quoted TSV cell that spans lines and holds tabs is the rows it swallowed.
    """
    reader = csv.reader(io.StringIO("\n".join(lines) + "\n"), delimiter=separator, strict=True)
    fix = ("quote the cell and double the quotes inside it (pandas' to_csv writes \"\"\"Yes,\"\" he said.\"), "
           "or do not start a cell with a quote")
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            what = ("the quote closing it is followed by more text" if "expected after" in str(error) else
                    "it is never closed (it would swallow every row after it)")
            raise CliError(f"{source}:{start}: a cell starts with a double quote, so it is read as quoted (CSV rules, "
                           f"in TSV files too), and {what}; {fix}") from None
        if separator == "\t" and any("\n" in cell and "\t" in cell for cell in cells):
            raise CliError(f"{source}:{start}: a quoted cell runs over lines {start}-{reader.line_num} and holds tabs: "
                           f"a double quote at its start swallowed the rows after it; {fix} (a text that really "
                           f"holds line breaks and tabs: use .jsonl or .parquet)")


def read_hub(key: str, name: str, config: str | None, split: str) -> Split:
    """A split of a Hub dataset (or of a local folder that `load_dataset` reads, which is how it is tested here)."""
    where = f"{name}{'/' + config if config else ''} split '{split}'"
    if not Path(name).expanduser().is_dir():
        offline_unless_reachable()
    try:
        rows = datasets.load_dataset(name, config, split=split)
    except Exception as error:  # noqa: BLE001 - the Hub client, fsspec and datasets each raise their own kinds
        raise CliError(f"cannot load {where} ({on_one_line(error)}); offline, use local files (--train_file ...)") from None
    return Split(key, rows, where)


class LabelSet:
    """The classes: their names in id order, and which label value means which id."""

    def __init__(self, names, to_id: dict, described: str, how: str):
        self.names, self.to_id, self.described = tuple(names), to_id, described  # `described`: for error messages
        self.how = how  # how the label cells were read, for the start summary


def label_set(train: Split, column: str, class_names: list[str] | None, values: list) -> LabelSet:
    """The classes, read from the training split's label column (its cells: `values`) or given by `class_names`.

    A label is the class's name as written (CSV and TSV cells are text: `01` and `1` are two classes). Integers
    (JSON Lines, Parquet) and texts that write an integer plainly (`0`, `12`: no sign, space or leading zero) are
    class ids where `--class_names` names the classes and the label is not itself one of the names. Read from the
    data, the classes sort by number where every label writes one plainly, else alphabetically."""
    feature = train.rows.features[column]
    if isinstance(feature, datasets.ClassLabel):  # the column's own names; its values are the ids
        names = class_names or feature.names
        if len(names) != feature.num_classes:
            raise train.problem(None, column, f"--class_names gives {len(names)} names for {feature.num_classes} classes")
        return LabelSet(names, {i: i for i in range(len(names))}, f"class ids 0-{len(names) - 1}", "a ClassLabel column")
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        raise train.problem(None, column, "labels mix integers and strings; use one kind")
    if class_names and kinds == {int}:  # integers are class ids, the names name them
        return LabelSet(class_names, {i: i for i in range(len(class_names))},
                        f"class ids 0-{len(class_names) - 1} of --class_names", "integers, as class ids into --class_names")
    if class_names:
        to_id = {str(i): i for i in range(len(class_names))} | {name: i for i, name in enumerate(class_names)}
        ids = sorted({v for v in values if v not in class_names})
        how = "texts: class names" + (f", and {', '.join(ids[:3])} as class ids into --class_names" if ids else "")
        return LabelSet(class_names, to_id, f"--class_names {' '.join(class_names)}", how)
    distinct = set(values)
    numeric = all(isinstance(v, int) or _plain_integer(v) for v in distinct)
    ordered = sorted(distinct, key=int) if numeric else sorted(distinct)
    how = ("integers" if kinds == {int} else "texts as written") + (", sorted by number" if numeric else ", sorted")
    return LabelSet([str(v) for v in ordered], {v: i for i, v in enumerate(ordered)},
                    f"the training split's labels: {', '.join(map(str, ordered))}", how)


def _plain_integer(text: str) -> bool:
    """`0`, `12`: an integer written plainly (so `01`, `+1`, ` 1` and `1.0` are names, never numbers)."""
    return isinstance(text, str) and text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


def _label_cells(split: Split, column: str) -> list:
    feature = split.rows.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return split.rows[column]
    return [_label_value(split, row, column, value) for row, value in enumerate(split.rows[column])]


def _label_value(split: Split, row: int, column: str, value):
    """A label cell as an int or a str (an integral float such as 2.0 is the int 2)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise split.problem(row, column, "empty label")
    raise split.problem(row, column, f"a label must be an integer or a string, found {value!r}")


def group_set(splits, column: str | None) -> dict:
    """group value -> its name in metric keys (letters, digits, '_', '.', '-'), sorted by name, over every split."""
    if not column:
        return {}
    values, shown = set(), {}
    for split in splits:
        feature = split.rows.features[column]
        for row, value in enumerate(split.rows[column]):
            if value is None or (isinstance(value, str) and not value.strip()):
                raise split.problem(row, column, "empty group")
            values.add(value)
            # a Hub ClassLabel column's groups go by their names, not their ids
            shown[value] = feature.int2str(value) if isinstance(feature, datasets.ClassLabel) else str(value)
    names = {value: re.sub(r"[^\w.-]+", "_", shown[value]).strip("_") or "group"
             for value in sorted(values, key=lambda v: shown[v])}
    clashes = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
    if clashes:
        raise CliError(f"--group_column {column}: groups {sorted(str(v) for v, n in names.items() if n == clashes[0])} "
                       f"would share the metric name '{clashes[0]}'; rename one")
    return names


def convert(split: Split, args, labels: LabelSet, groups: dict, label_cells: list | None) -> datasets.Dataset:
    """The split in the suite's columns (text, optional pair, class id, group id), every row checked.
    `label_cells`: the split's label cells (`_label_cells`), None for an unlabelled test split."""
    columns = {TEXT: _text_cells(split, args.text_column)}
    if args.text_pair_column:
        columns[TEXT_PAIR] = _text_cells(split, args.text_pair_column)
    if label_cells is not None:
        ids = []
        hidden = isinstance(split.rows.features[args.label_column], datasets.ClassLabel)
        for row, value in enumerate(label_cells):
            if hidden and value == UNLABELLED and split.name == "test":
                ids.append(UNLABELLED)
            elif value in labels.to_id:
                ids.append(labels.to_id[value])
            else:
                raise split.problem(row, args.label_column, f"label {value!r} is not among {labels.described}")
        columns[LABEL] = ids
    else:  # an unlabelled test split: a placeholder the Trainer carries along; no metric is computed from it
        columns[LABEL] = [0] * len(split.rows)
    group_ids = {value: i for i, value in enumerate(groups)}
    columns[GROUP] = [group_ids[v] for v in split.rows[args.group_column]] if groups else [0] * len(split.rows)
    features = {TEXT: datasets.Value("string"), **({TEXT_PAIR: datasets.Value("string")} if TEXT_PAIR in columns else {}),
                LABEL: datasets.Value("int64"), GROUP: datasets.Value("int64")}
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def _text_cells(split: Split, column: str) -> list[str]:
    texts = []
    for row, value in enumerate(split.rows[column]):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a column of numbers read as numbers
        if not isinstance(value, str):
            raise split.problem(row, column, "empty text" if value is None else f"not a text ({type(value).__name__})")
        if not value.strip():
            raise split.problem(row, column, "empty or whitespace-only text")
        texts.append(value)
    return texts
