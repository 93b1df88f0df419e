"""Readers that turn a catalog file of each format into one all-text table (row numbers as a user sees them)."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from diffscan.catalog.report import count_line, plural, reason_kind
from diffscan.catalog.sniff import (
    detect_encoding,
    format_from_name,
    guess_delimiter,
    sniff_binary_format,
    sniff_text_format,
)
from diffscan.errors import CatalogError

# Compressed files by their magic bytes: one table for whole-file reads and chunked ones (`open_binary`).
COMPRESSED: dict[bytes, Callable] = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


_JSON_LIST_KEYS = ("products", "items", "data", "listings", "records", "results", "rows")


@dataclass
class _RawTable:
    """An all-text table whose index holds the row numbers a user sees, plus rows the parser dropped."""

    frame: pd.DataFrame
    format: str
    encoding: str | None
    bad_rows: list[tuple[int, str]]


def read_table(path: str | PathLike) -> tuple[pd.DataFrame, str, str | None]:
    """Read a catalog file as an all-text table (index = row numbers as a user sees them).

    Returns the table, the format name and the text encoding (None for Parquet/XLSX). Used by
    ``load_catalog`` and to preview columns in the UI. Raises CatalogError for unreadable files.
    """
    raw = read_raw(Path(path))
    return raw.frame, raw.format, raw.encoding


def read_raw(path: Path) -> _RawTable:
    """Read bytes, pick the format and parse into a ``_RawTable``; every failure is a CatalogError."""
    data = _read_bytes(path)
    fmt = format_from_name(path) or sniff_binary_format(data)
    if fmt == "parquet":
        table = _RawTable(_read_parquet(data, path), "parquet", None, [])
    elif fmt == "xlsx":
        table = _RawTable(_read_xlsx(data, path), "xlsx", None, [])
    else:
        table = _read_text(data, path, fmt)
    if table.frame.empty:
        _raise_no_rows(table, path)
    table.frame.columns = unique_names([clean_header(c) for c in table.frame.columns])
    table.frame.index.name = "row"
    return table


def _raise_no_rows(table: _RawTable, path: Path) -> None:
    """Raise the CatalogError for a file that yielded no data rows (header only, empty list, all bad)."""
    if table.bad_rows:
        counts = count_line(dict(Counter(reason_kind(reason) for _, reason in table.bad_rows).most_common()))
        raise CatalogError(
            f"{path} has no usable listings: {plural(len(table.bad_rows), 'row')} skipped ({counts}); "
            "fix those rows or export the file again."
        )
    if len(table.frame.columns) and table.format in ("csv", "tsv", "xlsx"):
        raise CatalogError(f"{path} has a header but no data rows; add listings below the header.")
    raise CatalogError(f"{path} holds no listings; add some or export the catalog again.")


def _read_bytes(path: Path) -> bytes:
    """Read the whole file, decompressing gzip/bz2/xz by their magic bytes."""
    if not path.exists():
        raise CatalogError(f"Catalog file not found: {path}; check the path.")
    if path.is_dir():
        raise CatalogError(f"{path} is a folder, not a catalog file; give the path of the file inside it.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"could not read {path}: {exc.strerror or exc}; check the file's permissions.") from exc
    if not data:
        raise CatalogError(f"{path} is empty (0 bytes); export the catalog again.")
    for magic, opener in COMPRESSED.items():
        if data.startswith(magic):
            try:
                with opener(io.BytesIO(data), "rb") as stream:
                    data = stream.read()
            except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise CatalogError(
                    f"could not decompress {path}: the file is truncated or corrupt; compress it again."
                ) from exc
            if not data:
                raise CatalogError(f"{path} is empty once decompressed; export the catalog again.")
            break
    return data


def open_binary(path: Path):
    """The file as a binary stream, decompressed when it starts with gzip/bz2/xz magic bytes."""
    with open(path, "rb") as f:
        magic = f.read(6)
    for prefix, opener in COMPRESSED.items():
        if magic.startswith(prefix):
            return opener(path, "rb")
    return open(path, "rb")


def _read_parquet(data: bytes, path: Path) -> pd.DataFrame:
    """Parse Parquet bytes into an all-text table numbered from row 1."""
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise CatalogError(f"could not read {path}: file is truncated or not a Parquet file; export it again.") from exc
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()  # a named index (e.g. written by df.set_index("id")) is data
    return as_text_frame(frame, first_row=1)


def _read_xlsx(data: bytes, path: Path) -> pd.DataFrame:
    """Parse the first sheet of an XLSX workbook into an all-text table (header is row 1)."""
    try:
        frame = pd.read_excel(io.BytesIO(data), sheet_name=0, dtype=str, na_filter=False, engine="openpyxl")
    except Exception as exc:  # openpyxl/zipfile raise many types for corrupt workbooks
        raise CatalogError(
            f"could not read {path}: file is truncated or not an Excel .xlsx file; open it in Excel and save it again."
        ) from exc
    return as_text_frame(frame, first_row=2)


def _read_text(data: bytes, path: Path, fmt: str | None) -> _RawTable:
    """Decode a text catalog and parse it as delimited text, JSON or JSON Lines."""
    encoding = detect_encoding(data, path, fmt or "csv")
    sample = data[:65536].decode(encoding, errors="replace").lstrip("\ufeff")
    if not sample.strip():
        raise CatalogError(f"{path} is empty (only blank lines); export the catalog again.")
    if fmt is None:
        fmt = sniff_text_format(sample)
    if fmt == "json":
        return _read_json(data.decode(encoding), path, encoding)
    if fmt == "jsonl":
        return _read_jsonl(data.decode(encoding), path, encoding)
    delimiter = "\t" if fmt == "tsv" else guess_delimiter(sample, sniff=fmt is None)
    frame, bad_rows = _read_delimited(data, path, encoding, delimiter)
    return _RawTable(frame, "tsv" if delimiter == "\t" else "csv", encoding, bad_rows)


def _read_delimited(
    data: bytes, path: Path, encoding: str, delimiter: str
) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Parse delimited text; rows with too many fields are returned as bad rows instead of failing."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                io.BytesIO(data),
                sep=delimiter,
                dtype=str,
                encoding=encoding,
                na_filter=False,
                skip_blank_lines=False,
                on_bad_lines="warn",
                engine="c",
            )
        except pd.errors.EmptyDataError as exc:
            raise CatalogError(f"{path} is empty (only blank lines); export the catalog again.") from exc
        except (pd.errors.ParserError, ValueError, UnicodeError) as exc:
            raise CatalogError(parser_error_message(path, str(exc))) from exc
    bad_rows = [
        (int(m.group(1)), f"wrong number of fields ({m.group(2)})")
        for w in caught
        if issubclass(w.category, pd.errors.ParserWarning)
        for m in re.finditer(r"Skipping line (\d+): ([^\n]+)", str(w.message))
    ]
    bad = {row for row, _ in bad_rows}
    total = len(frame) + len(bad)
    rows = range(2, total + 2)  # the header is row 1
    frame.index = pd.Index([r for r in rows if r not in bad]) if bad else pd.RangeIndex(rows.start, rows.stop)
    return frame, bad_rows


def parser_error_message(path: Path, detail: str) -> str:
    """One sentence for a CSV the tokenizer gave up on, with the row number a user sees."""
    quote = re.search(r"EOF inside string starting at row (\d+)", detail)
    if quote:
        row = int(quote.group(1)) + 1
        return (
            f"{path} has a quote that is never closed (starting at row {row}); "
            "fix the quoting or export the file again."
        )
    detail = detail.replace("Error tokenizing data. C error: ", "").strip()
    return (
        f"could not parse {path} as delimited text ({detail}); "
        "check the delimiter and quoting or export the file again."
    )


def _read_json(text: str, path: Path, encoding: str) -> _RawTable:
    """Parse a JSON array of objects, or an object holding such an array under a key like "products"."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and sniff_text_format(text[:65536]) == "jsonl":
            return _read_jsonl(text, path, encoding)
        raise CatalogError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "fix the file or export it again."
        ) from exc
    records = _json_records(document, path)
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise CatalogError(
                f"item {number} in {path} is not a JSON object; each listing must be an object of fields."
            )
    frame = records_frame([_flatten(r) for r in records], list(range(1, len(records) + 1)))
    return _RawTable(frame, "json", encoding, [])


def _json_records(document: object, path: Path) -> list:
    """The list of listings in a JSON document: the document itself or its first list of objects."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        lists = {k: v for k, v in document.items() if isinstance(v, list) and any(isinstance(i, dict) for i in v)}
        for key in _JSON_LIST_KEYS:
            if key in lists:
                return lists[key]
        if len(lists) == 1:
            return next(iter(lists.values()))
    raise CatalogError(
        f'{path} does not hold a list of listings; put the listings in a JSON array or under a key such as "products".'
    )


def _read_jsonl(text: str, path: Path, encoding: str) -> _RawTable:
    """Parse JSON Lines; a malformed line is a skipped row (numbered by line), not a failure."""
    records: list[dict[str, str]] = []
    rows: list[int] = []
    bad_rows: list[tuple[int, str]] = []
    for number, record in jsonl_lines(text.split("\n")):
        if isinstance(record, str):
            bad_rows.append((number, record))
            continue
        records.append(record)
        rows.append(number)
    return _RawTable(records_frame(records, rows), "jsonl", encoding, bad_rows)


def jsonl_lines(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line number, flattened record or the reason it cannot be used) for each non-blank JSON Lines line;
    the one loop of whole-file and chunked reads."""
    for number, line in enumerate(lines, start=1):
        if number == 1:
            line = line.lstrip("\ufeff")
        if line.strip():
            yield number, parse_jsonl_line(line)


def parse_jsonl_line(line: str) -> dict[str, str] | str:
    """One JSON Lines record, flattened; or the reason it cannot be used."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"malformed JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(record, dict):
        return "not a JSON object"
    return _flatten(record)


def _flatten(record: dict, prefix: str = "") -> dict[str, str]:
    """Nested objects become dotted columns (``price.amount``); every value becomes text."""
    flat: dict[str, str] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = _to_text(value)
    return flat


def records_frame(records: list[dict[str, str]], rows: list[int]) -> pd.DataFrame:
    """All-text frame from flat records; fields missing from a record are empty strings."""
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame = frame.fillna("").astype(str)
    frame.index = pd.Index(rows)
    return frame


def _to_text(value: object) -> str:
    """Text form of a JSON/Parquet value: nulls empty, integral floats without ``.0``, lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if pd.isna(value):
        return ""
    return str(value)


def as_text_frame(frame: pd.DataFrame, first_row: int) -> pd.DataFrame:
    """Convert every column to text (empty string for nulls) and number rows from ``first_row``."""
    text = pd.DataFrame({str(name): _column_to_text(frame[name]) for name in frame.columns}, dtype=str)
    text.index = pd.RangeIndex(first_row, first_row + len(frame))
    return text


def _column_to_text(column: pd.Series) -> np.ndarray | list[str]:
    """Vectorized text conversion for string and numeric columns, per value for the rest."""
    if pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column):
        return column.fillna("").astype(str).to_numpy()
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=float)
        finite = values[~np.isnan(values)]
        if np.all(np.mod(finite, 1) == 0) and np.all(np.abs(finite) < 1e15):
            return column.astype("Int64").astype(str).where(column.notna(), "").to_numpy()
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column.astype(str).where(column.notna(), "").to_numpy()
    return [_to_text(v) for v in column.tolist()]


def clean_header(name: object) -> str:
    """Column name without BOM or surrounding whitespace."""
    return str(name).replace("\ufeff", "").strip()


def unique_names(names: list[str]) -> list[str]:
    """Make column names unique by appending ``.1``, ``.2`` (as pandas does for CSV headers)."""
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        unique.append(f"{name}.{seen[name]}" if seen[name] else name)
        seen[name] += 1
    return unique
