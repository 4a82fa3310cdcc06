"""The AES AIMLA 2025 QVIM challenge's development set (`qvim-dev`), in its own layout.

Layout, as the challenge baseline reads it (qvim-aes/qvim-baseline,
`src/qvim_mn_baseline/dataset.py`, class `AESAIMLA_DEV`; `download.py` fetches `qvim-dev.zip`):

    DEV Dataset.csv            one row per item: Label, Class, Items, Query 1, Query 2, Query 3
    Items/<Class>/<Items>      the sound effects searched
    Queries/<Class>/<Query k>  its vocal imitations (up to three; blank cells: fewer)

The baseline reads the CSV with `skiprows=1`: its first line is not the header. Here the
header is the first of the CSV's first lines that holds Label, Class and Items, so a file with
or without that extra line reads the same. Like the challenge's evaluation, the items ranked
are those with at least one imitation (its `melt` + `dropna` drops the others); any others are
named in the report. Each imitation's exact item is the item of its row; its class the row's
`Class` (NDCG counts every item of that class as relevant, `evaluation.qvim`).

Errors name the file: a missing folder or CSV, a missing column, an audio file listed in the
CSV that is missing or cannot be decoded (`on_bad_audio="skip"` leaves such files out and
lists them in the report instead).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vocalsearch_tf.datasets.common import LoadReport, unreadable_reason

CSV_NAME = "DEV Dataset.csv"
ITEMS, QUERIES = "Items", "Queries"
QUERY_COLUMNS = ("Query 1", "Query 2", "Query 3")
COLUMNS = ("Label", "Class", "Items", *QUERY_COLUMNS)
HEADER_KEYS = ("Label", "Class", "Items")
HEADER_SEARCH_LINES = 5
URL = "https://cloud.cp.jku.at/index.php/s/R2tJQnPmxp6RSSz/download/qvim-dev.zip"  # the baseline's download.py
HOW_TO_GET = f"download {URL} (the challenge's development set) and unpack it; its folder is qvim-dev/"


class QvimDevMissingError(FileNotFoundError):
    """The dev set's folder or its CSV is not where it was looked for."""

    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        super().__init__(f"qvim-dev: {what} ({self.path}). Get it: {HOW_TO_GET}")


class QvimLayoutError(ValueError):
    """The CSV is not the dev set's: no header row, or columns missing."""


class QvimAudioError(ValueError):
    """Audio files the CSV lists are missing or cannot be decoded."""


@dataclass
class QvimDev:
    root: Path
    items: pd.DataFrame  # item_id, filename, class, label, path
    queries: pd.DataFrame  # query_id, filename, class, item_id, query_column, line, path
    report: LoadReport


def header_line(csv_path: Path) -> int:
    """0-based index of the header: the first of the first lines whose cells include Label,
    Class and Items."""
    with open(csv_path, newline="", encoding="utf-8-sig") as file:
        for index, row in zip(range(HEADER_SEARCH_LINES), csv.reader(file)):
            if set(HEADER_KEYS) <= {cell.strip() for cell in row}:
                return index
    raise QvimLayoutError(f"{csv_path}: no header row with the columns {', '.join(HEADER_KEYS)} in its first "
                          f"{HEADER_SEARCH_LINES} lines; is this the QVIM dev set's {CSV_NAME}?")


def read_table(csv_path: Path) -> pd.DataFrame:
    """The CSV as text cells (blank = ''), stripped, with each row's line number in the file."""
    if not csv_path.is_file():
        raise QvimDevMissingError(csv_path, f"{CSV_NAME} not found")
    header = header_line(csv_path)
    table = pd.read_csv(csv_path, skiprows=header, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise QvimLayoutError(f"{csv_path}: columns {missing} missing (found {list(table.columns)}); "
                              f"the QVIM dev set's CSV has {', '.join(COLUMNS)}")
    table = table[list(COLUMNS)].apply(lambda column: column.str.strip())
    return table.assign(line=header + 2 + pd.RangeIndex(len(table)))  # 1-based, the header's line + 1


def item_table(rows: pd.DataFrame, root: Path) -> pd.DataFrame:
    """One row per distinct (Class, Items), in the CSV's order."""
    items = rows.drop_duplicates(["Class", "Items"]).reset_index(drop=True)
    return pd.DataFrame({"item_id": range(len(items)), "filename": items["Items"], "class": items["Class"],
                         "label": items["Label"], "line": items["line"],
                         "path": [root / ITEMS / c / f for c, f in zip(items["Class"], items["Items"])]})


def query_table(rows: pd.DataFrame, items: pd.DataFrame, root: Path, csv_path: Path) -> pd.DataFrame:
    """One row per imitation (non-blank Query cell) with its exact item's id."""
    item_of = {(c, f): i for c, f, i in zip(items["class"], items["filename"], items["item_id"])}
    long = rows.melt(id_vars=["Label", "Class", "Items", "line"], value_vars=list(QUERY_COLUMNS),
                     var_name="query_column", value_name="filename")
    long = long[long.filename != ""].sort_values(["line", "query_column"], kind="stable")
    long = long.drop_duplicates(["Class", "filename", "Items"])
    twice = long[long.duplicated(["Class", "filename"], keep=False)]
    if len(twice):
        raise QvimLayoutError(f"{csv_path}: imitations listed for more than one item: "
                              + ", ".join(sorted(set(twice.filename))[:5]))
    return pd.DataFrame({"query_id": range(len(long)), "filename": long.filename.to_numpy(),
                         "class": long["Class"].to_numpy(),
                         "item_id": [item_of[(c, i)] for c, i in zip(long["Class"], long["Items"])],
                         "query_column": long.query_column.to_numpy(), "line": long.line.to_numpy(),
                         "path": [root / QUERIES / c / f for c, f in zip(long["Class"], long.filename)]})


def bad_audio(table: pd.DataFrame) -> list[tuple[Path, int, str]]:
    """(path, CSV line, reason) of each file of `table` that cannot be used."""
    reasons = [(path, line, unreadable_reason(path)) for path, line in zip(table.path, table.line)]
    return [found for found in reasons if found[2]]


def check_audio(items: pd.DataFrame, queries: pd.DataFrame, csv_path: Path, on_bad_audio: str,
                report: LoadReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items and queries whose audio can be used; the others raise (`on_bad_audio="raise"`) or
    are left out and reported ("skip"; an item's imitations go with it)."""
    bad = bad_audio(items) + bad_audio(queries)
    if bad and on_bad_audio == "raise":
        listed = "; ".join(f"{path} (line {line}): {reason}" for path, line, reason in bad[:5])
        raise QvimAudioError(f"{csv_path}: {len(bad)} listed audio files cannot be used: {listed}"
                             + (" ..." if len(bad) > 5 else ""))
    for path, line, reason in bad:
        report.skip(path, f"{reason} (line {line} of {csv_path.name})")
    bad_paths = {path for path, _, _ in bad}
    items = items[~items.path.isin(bad_paths)]
    queries = queries[~queries.path.isin(bad_paths) & queries.item_id.isin(items.item_id)]
    return items, queries


def load_qvim_dev(root: str | Path, on_bad_audio: str = "raise") -> QvimDev:
    """The dev set's items and imitations (module docstring). `on_bad_audio`: "raise" or "skip"."""
    if on_bad_audio not in ("raise", "skip"):
        raise ValueError(f"on_bad_audio must be 'raise' or 'skip', not {on_bad_audio!r}")
    root = Path(root)
    if not root.is_dir():
        raise QvimDevMissingError(root, "dataset folder not found")
    csv_path = root / CSV_NAME
    rows = read_table(csv_path)
    rows = rows[rows["Items"] != ""]
    report = LoadReport("qvim-dev")
    items = item_table(rows, root)
    queries = query_table(rows, items, root, csv_path)
    items, queries = check_audio(items, queries, csv_path, on_bad_audio, report)
    unimitated = items[~items.item_id.isin(queries.item_id)]
    if len(unimitated):
        report.warnings.append(f"{len(unimitated)} items have no imitation and are not ranked (as in the "
                               "challenge's evaluation): " + ", ".join(unimitated.filename.head(5)))
    items = items[items.item_id.isin(queries.item_id)]
    items, queries = renumber(items, queries)
    report.counts = {"items": len(items), "imitations": len(queries), "classes": items["class"].nunique()}
    return QvimDev(root, items, queries, report)


def renumber(items: pd.DataFrame, queries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ids 0..n-1 in the CSV's order after rows were left out: an item id is its column in a
    ranking of every item."""
    new_id = {old: new for new, old in enumerate(items.item_id)}
    items = items.assign(item_id=range(len(items))).reset_index(drop=True)
    queries = queries.assign(item_id=queries.item_id.map(new_id), query_id=range(len(queries)))
    return items, queries.reset_index(drop=True)
