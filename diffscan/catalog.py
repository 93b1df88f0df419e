"""Load any supported catalog file into the canonical listings table and report every row not used.

Supported: CSV, TSV, JSON (array, or object holding an array), JSON Lines, Parquet and XLSX, optionally
gzip/bz2/xz-compressed. Everything is read as text first (so ids like ``00123`` survive), then columns
are mapped to the canonical fields (see docs/architecture.md) and parsed. Rows that cannot be used are
skipped with a reason; values that cannot be parsed become empty/NaN with a warning. Nothing is
dropped silently.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import html
import io
import json
import lzma
import math
import re
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Callable

import charset_normalizer
import numpy as np
import pandas as pd

from diffscan.errors import CatalogError, MappingError

CANONICAL_FIELDS = (
    "listing_id",
    "title",
    "description",
    "category_path",
    "brand",
    "price",
    "rating",
    "review_count",
    "url",
)
MAX_TITLE_CHARS = 500

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _kind(text: str) -> str:
    """Group key of a reason or warning message: the text before its parenthesized detail."""
    return text.split(" (", 1)[0]


@dataclass
class SkippedRow:
    """A row that was not used. ``row`` is the row number a user sees (CSV/XLSX: header is row 1)."""

    row: int
    listing_id: str
    reason: str

    @property
    def kind(self) -> str:
        """The reason without its detail, e.g. ``duplicate listing_id``."""
        return _kind(self.reason)


@dataclass
class RowWarning:
    """A value in a used row that was changed or dropped, e.g. an unparseable price kept as NaN."""

    row: int
    column: str
    message: str

    @property
    def kind(self) -> str:
        """The message without its detail, e.g. ``price not a number``."""
        return _kind(self.message)


def _count_line(counts: dict[str, int]) -> str:
    """Render ``{"empty title": 2}`` as ``empty title: 2`` for the summary."""
    return ", ".join(f"{kind}: {n:,}" for kind, n in counts.items())


def _plural(count: int, noun: str) -> str:
    """``1 row``, ``1,081 rows``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@dataclass
class LoadReport:
    """What was read from a catalog file, how columns were mapped, and every row not used."""

    path: str
    format: str
    encoding: str | None
    rows_read: int
    rows_used: int
    column_mapping: dict[str, str]
    skipped: list[SkippedRow] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)

    def skipped_by_reason(self) -> dict[str, int]:
        """Number of skipped rows per reason kind, most frequent first."""
        return dict(Counter(s.kind for s in self.skipped).most_common())

    def warnings_by_kind(self) -> dict[str, int]:
        """Number of warnings per kind, most frequent first."""
        return dict(Counter(w.kind for w in self.warnings).most_common())

    def summary(self) -> str:
        """A few human lines: source, row counts with reasons, warnings, and the column mapping."""
        skipped = f"{len(self.skipped):,} skipped"
        if self.skipped:
            skipped += f" ({_count_line(self.skipped_by_reason())})"
        warned = _plural(len(self.warnings), "warning")
        if self.warnings:
            warned += f" ({_count_line(self.warnings_by_kind())})"
        encoding = f", encoding {self.encoding}" if self.encoding else ""
        mapping = ", ".join(f"{f} <- {c}" for f, c in self.column_mapping.items())
        return "\n".join(
            [
                f"{self.path} ({self.format}{encoding})",
                f"{_plural(self.rows_read, 'row')} read, {self.rows_used:,} used, {skipped}; {warned}",
                f"columns: {mapping}",
            ]
        )

    def to_dict(self) -> dict:
        """JSON-able form, with the per-reason and per-kind counts included."""
        data = asdict(self)
        data["skipped_by_reason"] = self.skipped_by_reason()
        data["warnings_by_kind"] = self.warnings_by_kind()
        return data


@dataclass
class LoadResult:
    """The canonical listings table and the report of how it was made."""

    listings: pd.DataFrame
    report: LoadReport


# ---------------------------------------------------------------------------------------------
# Reading files into a raw all-text table
# ---------------------------------------------------------------------------------------------

_EXTENSION_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
_FORMAT_NAMES = {"csv": "a CSV", "tsv": "a TSV", "json": "a JSON file", "jsonl": "a JSON Lines file"}
_DECOMPRESSORS: dict[bytes, Callable[[bytes], bytes]] = {
    b"\x1f\x8b": gzip.decompress,
    b"BZh": bz2.decompress,
    b"\xfd7zXZ\x00": lzma.decompress,
}
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz")
_MAGIC_NAMES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP or XLSX file",
    b"PAR1": "a Parquet file",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls or Word file",
}
_EXPORT_HINT = "export the catalog as CSV, TSV, JSON, JSON Lines, Parquet or XLSX"
_JSON_LIST_KEYS = ("products", "items", "data", "listings", "records", "results", "rows")
# charset-normalizer guesses among these Latin-script single-byte code pages (and BOM-less UTF-16/32)
# are unreliable on catalog text; Windows-1252 is by far the most common of them in exports.
_WESTERN_GUESSES = {
    "ascii", "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3",
    "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16",
    "mac_roman", "mac_latin2", "mac_iceland", "mac_turkish", "cp437", "cp850", "cp852", "cp858",
    "utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le",
}  # fmt: skip
_CENTRAL_EUROPEAN = {"Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian"}


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
    raw = _read_raw(Path(path))
    return raw.frame, raw.format, raw.encoding


def _read_raw(path: Path) -> _RawTable:
    """Read bytes, pick the format and parse into a ``_RawTable``; every failure is a CatalogError."""
    data = _read_bytes(path)
    fmt = _format_from_name(path) or _sniff_binary_format(data)
    if fmt == "parquet":
        table = _RawTable(_read_parquet(data, path), "parquet", None, [])
    elif fmt == "xlsx":
        table = _RawTable(_read_xlsx(data, path), "xlsx", None, [])
    else:
        table = _read_text(data, path, fmt)
    if table.frame.empty:
        _raise_no_rows(table, path)
    table.frame.columns = _unique_names([_clean_header(c) for c in table.frame.columns])
    table.frame.index.name = "row"
    return table


def _raise_no_rows(table: _RawTable, path: Path) -> None:
    """Raise the CatalogError for a file that yielded no data rows (header only, empty list, all bad)."""
    if table.bad_rows:
        counts = _count_line(dict(Counter(_kind(reason) for _, reason in table.bad_rows).most_common()))
        raise CatalogError(
            f"{path} has no usable listings: {_plural(len(table.bad_rows), 'row')} skipped ({counts}); "
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
    for magic, decompress in _DECOMPRESSORS.items():
        if data.startswith(magic):
            try:
                data = decompress(data)
            except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise CatalogError(
                    f"could not decompress {path}: the file is truncated or corrupt; compress it again."
                ) from exc
            if not data:
                raise CatalogError(f"{path} is empty once decompressed; export the catalog again.")
            break
    return data


def _format_from_name(path: Path) -> str | None:
    """Format implied by the extension (case-insensitive, compression suffix ignored), or None."""
    name = path.name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    suffix = Path(name).suffix
    if suffix == ".xls":
        raise CatalogError(f"{path} is an old Excel .xls file, which is not supported; save it as .xlsx or .csv.")
    return _EXTENSION_FORMATS.get(suffix)


def _sniff_binary_format(data: bytes) -> str | None:
    """For unknown extensions: recognize Parquet and XLSX by their magic bytes."""
    if data.startswith(b"PAR1"):
        return "parquet"
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    return None


def _read_parquet(data: bytes, path: Path) -> pd.DataFrame:
    """Parse Parquet bytes into an all-text table numbered from row 1."""
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise CatalogError(f"could not read {path}: file is truncated or not a Parquet file; export it again.") from exc
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()  # a named index (e.g. written by df.set_index("id")) is data
    return _as_text_frame(frame, first_row=1)


def _read_xlsx(data: bytes, path: Path) -> pd.DataFrame:
    """Parse the first sheet of an XLSX workbook into an all-text table (header is row 1)."""
    try:
        frame = pd.read_excel(io.BytesIO(data), sheet_name=0, dtype=str, na_filter=False, engine="openpyxl")
    except Exception as exc:  # openpyxl/zipfile raise many types for corrupt workbooks
        raise CatalogError(
            f"could not read {path}: file is truncated or not an Excel .xlsx file; open it in Excel and save it again."
        ) from exc
    return _as_text_frame(frame, first_row=2)


def _read_text(data: bytes, path: Path, fmt: str | None) -> _RawTable:
    """Decode a text catalog and parse it as delimited text, JSON or JSON Lines."""
    encoding = _detect_encoding(data, path, fmt or "csv")
    sample = data[:65536].decode(encoding, errors="replace").lstrip("\ufeff")
    if not sample.strip():
        raise CatalogError(f"{path} is empty (only blank lines); export the catalog again.")
    if fmt is None:
        fmt = _sniff_text_format(sample)
    if fmt == "json":
        return _read_json(data.decode(encoding), path, encoding)
    if fmt == "jsonl":
        return _read_jsonl(data.decode(encoding), path, encoding)
    delimiter = "\t" if fmt == "tsv" else _guess_delimiter(sample, sniff=fmt is None)
    frame, bad_rows = _read_delimited(data, path, encoding, delimiter)
    return _RawTable(frame, "tsv" if delimiter == "\t" else "csv", encoding, bad_rows)


def _detect_encoding(data: bytes, path: Path, fmt: str) -> str:
    """UTF-8 (with or without BOM), a BOM'd UTF-16/32, else charset-normalizer's guess, cp1252, latin-1."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = data[:65536]
    if b"\x00" in head:
        kind = next((name for magic, name in _MAGIC_NAMES.items() if data.startswith(magic)), None)
        detail = f" (it starts like {kind})" if kind else ""
        raise CatalogError(
            f"{path} looks like a binary file, not {_FORMAT_NAMES.get(fmt, 'a CSV')}{detail}; {_EXPORT_HINT}."
        )
    try:
        data.decode("utf-8")
        return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError:
        pass
    for candidate in (_guess_legacy_encoding(data), "cp1252", "latin-1"):
        if candidate and _decodes(data, candidate):
            return candidate
    return "latin-1"  # unreachable: latin-1 decodes any bytes


def _guess_legacy_encoding(data: bytes) -> str | None:
    """charset-normalizer's guess, except Western guesses become cp1252 (see ``_WESTERN_GUESSES``)."""
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return None
    if best.encoding in {"cp1250", "iso8859_2"} and best.language in _CENTRAL_EUROPEAN:
        return best.encoding
    return "cp1252" if best.encoding in _WESTERN_GUESSES else best.encoding


def _decodes(data: bytes, encoding: str) -> bool:
    """True when ``data`` decodes strictly with ``encoding``."""
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _sniff_text_format(sample: str) -> str | None:
    """For unknown extensions: JSON or JSON Lines by the first character, else None (delimited)."""
    text = sample.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        first_line = text.split("\n", 1)[0]
        try:
            json.loads(first_line)
        except json.JSONDecodeError:
            return "json"
        return "jsonl"
    return None


def _guess_delimiter(sample: str, *, sniff: bool) -> str:
    """Delimiter of a delimited file: csv.Sniffer when asked (unknown extensions), else the header's."""
    if sniff:
        lines = "\n".join(sample.splitlines()[:50])
        try:
            return csv.Sniffer().sniff(lines, delimiters=",\t;|").delimiter
        except csv.Error:
            pass
    header = sample.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])  # ties keep the first, i.e. comma
    return best if counts[best] else ","


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
            raise CatalogError(_parser_error_message(path, str(exc))) from exc
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


def _parser_error_message(path: Path, detail: str) -> str:
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
        if exc.msg == "Extra data" and _sniff_text_format(text[:65536]) == "jsonl":
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
    frame = _records_frame([_flatten(r) for r in records], list(range(1, len(records) + 1)))
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
    for number, line in enumerate(text.lstrip("\ufeff").split("\n"), start=1):
        if not line.strip():
            continue
        record = parse_jsonl_line(line)
        if isinstance(record, str):
            bad_rows.append((number, record))
            continue
        records.append(record)
        rows.append(number)
    return _RawTable(_records_frame(records, rows), "jsonl", encoding, bad_rows)


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


def _records_frame(records: list[dict[str, str]], rows: list[int]) -> pd.DataFrame:
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


def _as_text_frame(frame: pd.DataFrame, first_row: int) -> pd.DataFrame:
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


def _clean_header(name: object) -> str:
    """Column name without BOM or surrounding whitespace."""
    return str(name).replace("\ufeff", "").strip()


def _unique_names(names: list[str]) -> list[str]:
    """Make column names unique by appending ``.1``, ``.2`` (as pandas does for CSV headers)."""
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        unique.append(f"{name}.{seen[name]}" if seen[name] else name)
        seen[name] += 1
    return unique


# ---------------------------------------------------------------------------------------------
# Column mapping
# ---------------------------------------------------------------------------------------------

_FIELD_ALIASES = {"category": "category_path", "id": "listing_id"}
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "listing_id": ("listing_id", "id", "uniq_id", "product_id", "item_id", "sku", "asin", "index"),
    "title": ("title", "product_title", "product_name", "item_name", "item_title", "listing_title", "name", "product"),
    "description": (
        "description", "product_description", "long_description", "desc", "body_html", "body",
        "details", "product_details", "about", "about_product", "about_this_item",
    ),
    "brand": ("brand", "brand_name", "manufacturer", "maker", "vendor"),
    "price": ("price", "sale_price", "current_price", "selling_price", "final_price", "discounted_price", "amount"),
    "rating": (
        "rating", "average_review_rating", "average_rating", "avg_rating", "review_rating", "stars",
        "rating_value", "product_rating",
    ),
    "review_count": (
        "review_count", "reviews_count", "number_of_reviews", "num_reviews", "review_counts",
        "ratings_count", "rating_count", "number_of_ratings", "num_ratings", "reviews",
    ),
    "url": ("url", "product_url", "link", "product_link", "page_url", "href"),
}  # fmt: skip
_CATEGORY_PATH_NAMES = (
    "category_path", "categories", "breadcrumb", "breadcrumbs", "amazon_category_and_sub_category",
    "category_tree", "product_category_tree", "product_category", "category", "category_name",
)  # fmt: skip
# Named level columns from the top; a "type" level only counts below a sub-category (BigBasket).
_CATEGORY_CHAIN = (
    ("department", "main_category", "top_category", "division"),
    ("category", "category_name"),
    ("sub_category", "subcat", "sub_category_name"),
    ("sub_sub_category", "subsubcat"),
    ("type", "product_type", "item_type"),
)
_NUMBERED_LEVEL = re.compile(r"^(?:category|cat|categorylevel|catlevel|level|lvl)(\d+)(?:name)?$")


def _norm(name: str) -> str:
    """Name key that ignores case, spaces, underscores and punctuation: ``Product Name`` -> ``productname``."""
    return re.sub(r"[\W_]+", "", name.casefold())


def detect_mapping(columns: list[str]) -> dict[str, str]:
    """Map canonical fields to source columns by common names; multi-level categories join with commas."""
    return {f: ",".join(cols) for f, cols in _detect_sources(list(columns), taken=set()).items()}


def _detect_sources(
    columns: list[str], taken: set[str], fields: tuple[str, ...] = CANONICAL_FIELDS
) -> dict[str, list[str]]:
    """Source columns per field for ``fields``, never reusing a column in ``taken`` or across fields."""
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_norm(column), column)
    used = set(taken)

    def pick(names: tuple[str, ...]) -> str | None:
        for name in names:
            column = by_key.get(_norm(name))
            if column is not None and column not in used:
                return column
        return None

    sources: dict[str, list[str]] = {}
    for name in fields:
        if name == "category_path":
            continue
        column = pick(_SYNONYMS[name])
        if column is not None:
            sources[name] = [column]
            used.add(column)
    if "category_path" in fields:
        levels = _detect_category_columns(columns, used, pick)
        if levels:
            sources["category_path"] = levels
    return {name: sources[name] for name in fields if name in sources}


def _detect_category_columns(
    columns: list[str], used: set[str], pick: Callable[[tuple[str, ...]], str | None]
) -> list[str]:
    """Category source columns: a path column, else numbered levels, else a named chain, else ``category``."""
    path_column = pick(_CATEGORY_PATH_NAMES[:-2])
    if path_column:
        return [path_column]
    numbered = sorted(
        ((int(m.group(1)), c) for c in columns if c not in used and (m := _NUMBERED_LEVEL.match(_norm(c)))),
    )
    if len(numbered) >= 2:
        return [c for _, c in numbered]
    chain = [pick(names) for names in _CATEGORY_CHAIN]
    if chain[4] and not chain[2]:
        chain[4] = None
    levels = [c for c in chain if c]
    if len(levels) >= 2:
        return levels
    single = pick(_CATEGORY_PATH_NAMES[-2:])
    return [single] if single else []


def _canonical_field(name: str, source: str) -> str:
    """Canonical field for a user-given name (``category`` and ``id`` accepted), else MappingError."""
    key = name.strip().lower()
    key = _FIELD_ALIASES.get(key, key)
    if key not in CANONICAL_FIELDS:
        known = ", ".join(CANONICAL_FIELDS)
        raise MappingError(f"unknown field '{name}' in {source}; fields are: {known} (or category, id).")
    return key


def parse_mapping(items: list[str]) -> dict[str, str]:
    """Parse CLI ``--map FIELD=COLUMN`` items (``category=cat1,cat2`` for levels; ``-`` disables a field)."""
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise MappingError(f"--map expects FIELD=COLUMN (e.g. title=product_name), got '{item}'.")
        field_name = _canonical_field(name, f"--map {item}")
        mapping[field_name] = ",".join(part.strip() for part in value.split(",")) if value.strip() else ""
    return mapping


def _resolve_mapping(columns: list[str], mapping: dict[str, str] | None, path: str) -> dict[str, list[str]]:
    """Explicit mapping first (validated against the columns), then automatic detection for the rest."""
    explicit: dict[str, list[str]] = {}
    disabled: set[str] = set()
    for name, value in (mapping or {}).items():
        field_name = _canonical_field(name, "the column mapping")
        value = (value or "").strip()
        if value in ("", "-"):
            disabled.add(field_name)
            continue
        explicit[field_name] = _explicit_columns(field_name, value, columns, path)
    taken = {c for cols in explicit.values() for c in cols}
    remaining = tuple(f for f in CANONICAL_FIELDS if f not in explicit and f not in disabled)
    detected = _detect_sources(columns, taken, remaining)
    return {f: (explicit.get(f) or detected[f]) for f in CANONICAL_FIELDS if f in explicit or f in detected}


def _explicit_columns(field_name: str, value: str, columns: list[str], path: str) -> list[str]:
    """Columns named in an explicit mapping value (a comma list only for category_path)."""
    whole = _find_column(value, columns)
    if whole is not None:
        return [whole]
    names = [part.strip() for part in value.split(",") if part.strip()]
    if len(names) > 1 and field_name != "category_path":
        raise MappingError(f"{field_name} takes one column, got '{value}'; only category can take several levels.")
    found = []
    for name in names:
        column = _find_column(name, columns)
        if column is None:
            available = ", ".join(columns)
            raise MappingError(
                f"column '{name}' (mapped to {field_name}) is not in {path}; available columns: {available}."
            )
        found.append(column)
    return found


def _find_column(name: str, columns: list[str]) -> str | None:
    """The column called ``name``, or the only one equal to it ignoring case, spaces and underscores."""
    if name in columns:
        return name
    matches = [c for c in columns if _norm(c) == _norm(name)]
    return matches[0] if len(matches) == 1 else None


# ---------------------------------------------------------------------------------------------
# Value parsing
# ---------------------------------------------------------------------------------------------

_ABSENT = {"", "-", "--", "n/a", "na", "none", "null", "nan", "nil"}
_CURRENCY = re.compile(
    r"(?i)us\$|c\$|a\$|[$£€¥₹₩₽]|\b(?:usd|gbp|eur|inr|jpy|cny|rmb|cad|aud|chf|rs|mrp)\b\.?|/-$"
)
_NUMBER = re.compile(r"^[+-]?\d[\d.,'\s]*$")
_RANGE = re.compile(r"\s+(?:-|–|—|to)\s+|\s*[–—]\s*")
_RATING = re.compile(
    r"(?i)^(\d+(?:[.,]\d+)?)\s*(?:(?:out\s+of|/|of)\s*(\d+(?:[.,]\d+)?))?\s*(?:stars?)?$"
)
_COUNT = re.compile(r"(?i)^\(?\s*(\d[\d.,'\s]*?)\s*([km](?![a-z]))?\)?(?:\s*[^\d\s.,].*)?$")


def _to_number(text: str, *, dot_groups_thousands: bool) -> float | None:
    """Number from ``1,299.00``, ``1.234,56``, ``16,99``, ``1 234``; None when it is not one."""
    text = re.sub(r"[\s'\u00a0\u202f]", "", text)
    if not re.fullmatch(r"[+-]?\d[\d.,]*", text):
        return None
    if "." in text and "," in text:
        decimal = "." if text.rfind(".") > text.rfind(",") else ","
        text = text.replace("," if decimal == "." else ".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", "") if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", text) else text.replace(",", ".")
    elif text.count(".") > 1 or (dot_groups_thousands and re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+", text)):
        text = text.replace(".", "")
    try:
        return float(text)
    except ValueError:
        return None


_Parser = Callable[[object], tuple[float | None, str | None]]


def _parse_price(value: object) -> tuple[float | None, str | None]:
    """Price and the problem found (None when fine or absent); ranges take the lower bound."""
    text = _plain(value)
    if text.lower() in _ABSENT:
        return None, None
    parts = [p for p in _RANGE.split(text) if p.strip()]
    prices = []
    for part in parts:
        number = _CURRENCY.sub("", part).strip()
        price = _to_number(number, dot_groups_thousands=False) if _NUMBER.match(number) else None
        if price is None:
            return None, "not a number"
        prices.append(price)
    if not prices:
        return None, "not a number"
    price = min(prices)
    return (None, "is negative") if price < 0 else (price, None)


def _parse_rating(value: object) -> tuple[float | None, str | None]:
    """Rating on the 0-5 scale (``4.5``, ``4,5``, ``4.5 out of 5 stars``, ``8/10`` rescaled)."""
    text = _plain(value)
    if text.lower() in _ABSENT:
        return None, None
    if text.endswith("%"):
        return None, "is a percentage"
    match = _RATING.match(text)
    if not match:
        return None, "not a number"
    rating = float(match.group(1).replace(",", "."))
    if match.group(2):
        scale = float(match.group(2).replace(",", "."))
        if scale <= 0:
            return None, "not a number"
        rating = rating * 5 / scale
    return (rating, None) if 0 <= rating <= 5 else (None, "out of range 0-5")


def _parse_count(value: object) -> tuple[float | None, str | None]:
    """Count from ``1,234``, ``1.234``, ``1.2k``, ``5 new`` (the leading number); None when absent."""
    text = _plain(value)
    if text.lower() in _ABSENT:
        return None, None
    if text.startswith("-") and _COUNT.match(text[1:].strip()):
        return None, "is negative"
    match = _COUNT.match(text)
    number = _to_number(match.group(1), dot_groups_thousands=True) if match else None
    if number is None:
        return None, "not a number"
    scale = {"k": 1e3, "m": 1e6}.get((match.group(2) or "").lower(), 1)
    return round(number * scale, 6), None


def _plain(value: object) -> str:
    """A value as stripped text; None/NaN become empty."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value).strip()


def parse_price(value: object) -> float | None:
    """Price as a float (``$399.00``, ``€1.234,56``, ``Rs. 220``, ``16.99 - 19.99`` -> 16.99), else None."""
    return _parse_price(value)[0]


def parse_rating(value: object) -> float | None:
    """Rating on the 0-5 scale, else None (absent, percentage, out of range or not a number)."""
    return _parse_rating(value)[0]


def parse_count(value: object) -> float | None:
    """Non-negative count (``1,234``, ``1.234``, ``5 new``), else None."""
    return _parse_count(value)[0]


_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_INLINE_TAG = re.compile(r"</?(?:a|abbr|b|code|em|font|i|mark|s|small|span|strong|sub|sup|u)\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]")
_WHITESPACE = re.compile(r"\s+")


def clean_text(value: object) -> str:
    """Text without HTML tags/entities or control characters, whitespace folded; emoji and CJK kept."""
    text = _plain(value)
    if "<" in text:
        text = _COMMENT.sub(" ", _SCRIPT_STYLE.sub(" ", text))
        text = _TAG.sub(" ", _INLINE_TAG.sub("", text))
    if "&" in text:
        text = html.unescape(text)
    text = _INVISIBLE.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def _split_category(value: str, separator: str | None = None) -> list[str]:
    """Category levels from one path value (``A > B``, ``A | B``, ``A / B``, ``A » B`` or a JSON list)."""
    text = clean_text(value)
    if text.startswith("[") and text.endswith("]"):
        try:
            levels = json.loads(text)
        except json.JSONDecodeError:
            levels = None
        if isinstance(levels, list):
            return [t for t in (clean_text(level) for level in levels) if t]
    if separator is None:
        separator = next((s for s in (">", " / ", "|", "»") if s in text), None)
    parts = text.split(separator) if separator else [text]
    return [p.strip() for p in parts if p.strip()]


# ---------------------------------------------------------------------------------------------
# Building the canonical table
# ---------------------------------------------------------------------------------------------


class _Notes:
    """Collects warnings while columns are parsed, keyed by row number."""

    def __init__(self) -> None:
        self.items: list[RowWarning] = []

    def add(self, rows: pd.Index, mask: np.ndarray, column: str, messages: list[str] | str) -> None:
        """Add a warning for each row where ``mask`` is true (one message, or one per flagged row)."""
        flagged = rows[mask]
        texts = [messages] * len(flagged) if isinstance(messages, str) else messages
        self.items.extend(RowWarning(int(r), column, m) for r, m in zip(flagged, texts))


def _shown(value: str) -> str:
    """A value quoted for a message, shortened to 40 characters."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _cleaned(values: pd.Series) -> pd.Series:
    """``clean_text`` over a column, computed once per distinct value."""
    return values.map({v: clean_text(v) for v in values.unique()})


def _cut(values: pd.Series, limit: int, column: str, notes: _Notes) -> pd.Series:
    """Cut texts longer than ``limit`` characters, with a warning per cut row."""
    long = (values.str.len() > limit).to_numpy()
    if long.any():
        notes.add(values.index, long, column, f"{column} cut to {limit:,} characters")
        values = values.where(~long, values.str.slice(0, limit))
    return values


def _numbers(values: pd.Series, parse: _Parser, column: str, notes: _Notes) -> np.ndarray:
    """Parse a numeric column once per distinct value; problems become warnings and NaN."""
    parsed = {v: parse(v) for v in values.unique()}
    numbers = values.map({v: (np.nan if n is None else n) for v, (n, _) in parsed.items()}).to_numpy(dtype=float)
    problems = values.map({v: p or "" for v, (_, p) in parsed.items()})
    bad = (problems != "").to_numpy()
    if bad.any():
        messages = [f"{column} {p} ({_shown(v.strip())})" for v, p in zip(values[bad], problems[bad])]
        notes.add(values.index, bad, column, messages)
    return numbers


def _category_paths(frame: pd.DataFrame, columns: list[str], separator: str | None) -> list[list[str]]:
    """Category levels per row: one path column split on its separator, or one level per column."""
    if not columns:
        return [[] for _ in range(len(frame))]
    if len(columns) == 1:
        values = frame[columns[0]]
        paths = {v: _split_category(v, separator) for v in values.unique()}
        return [list(paths[v]) for v in values]
    levels = [_cleaned(frame[c]).tolist() for c in columns]
    return [[level for level in row if level] for row in zip(*levels)]


_JSON = json.JSONEncoder(ensure_ascii=False)


def _extra_json(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Unmapped columns of each row as a JSON object string (empty values omitted), built column-wise."""
    body = pd.Series("", index=frame.index, dtype=str)
    for column in columns:
        values = frame[column].str.strip()
        pairs = f", {_JSON.encode(column)}: " + values.map(_JSON.encode).astype(str)
        body = body + pairs.where(values != "", "")
    return "{" + body.str.slice(2) + "}"


def _listing_ids(frame: pd.DataFrame, column: str | None, notes: _Notes) -> pd.Series:
    """Ids from the id column (whitespace stripped), or ``row-<n>`` where absent or empty."""
    generated = pd.Series([f"row-{r}" for r in frame.index], index=frame.index, dtype=str)
    if column is None:
        return generated
    ids = frame[column].str.strip()
    empty = (ids == "").to_numpy()
    if empty.any():
        notes.add(frame.index, empty, "listing_id", [f"listing_id empty (generated {g})" for g in generated[empty]])
    return ids.where(~empty, generated)


def _skips(frame: pd.DataFrame, titles: pd.Series, ids: pd.Series) -> pd.Series:
    """Reason each row is skipped ("" when used): blank row, empty title, duplicate listing_id."""
    reasons = pd.Series("", index=frame.index, dtype=str)
    blank = frame.apply(lambda column: column.str.strip() == "").all(axis=1)
    reasons[blank] = "blank row"
    reasons[(reasons == "") & (titles == "")] = "empty title"
    usable = reasons == ""
    duplicate = ids[usable].duplicated(keep="first")
    if duplicate.any():
        first_row = pd.Series(ids[usable][~duplicate].index, index=ids[usable][~duplicate].to_numpy())
        dup_rows = duplicate[duplicate].index
        reasons[dup_rows] = [f"duplicate listing_id (first at row {first_row[i]})" for i in ids[dup_rows]]
    return reasons


def load_catalog(
    path: str | PathLike,
    mapping: dict[str, str] | None = None,
    *,
    category_separator: str | None = None,
    max_description_chars: int = 5000,
) -> LoadResult:
    """Load a catalog file into the canonical listings table, with a report of skipped rows and warnings.

    Parameters: ``mapping`` maps canonical fields (or ``category``/``id``) to source columns and
    overrides automatic detection; ``""`` or ``"-"`` disables a field; ``category=a,b,c`` names level
    columns. ``category_separator`` forces the separator of a single category path column.
    Raises CatalogError (or MappingError) with one sentence naming the file and the fix.
    """
    if max_description_chars < 1:
        raise ValueError("max_description_chars must be at least 1")
    raw = _read_raw(Path(path))
    frame = raw.frame
    sources = _resolve_mapping(list(frame.columns), mapping, str(path))
    if "title" not in sources:
        raise CatalogError(
            f"{path} has no title column (columns found: {', '.join(frame.columns)}); "
            "name it with --map title=COLUMN."
        )
    notes = _Notes()
    table = _canonical_table(frame, sources, notes, category_separator, max_description_chars)
    reasons = _skips(frame, table["title"], table["listing_id"])
    keep = (reasons == "").to_numpy()
    skipped = [SkippedRow(r, "", reason) for r, reason in raw.bad_rows]
    for row, reason in reasons[~keep].items():
        skipped.append(SkippedRow(int(row), "" if reason == "blank row" else table.at[row, "listing_id"], reason))
    skipped.sort(key=lambda s: s.row)
    kept_rows = set(frame.index[keep])
    report = LoadReport(
        path=str(path),
        format=raw.format,
        encoding=raw.encoding,
        rows_read=len(frame) + len(raw.bad_rows),
        rows_used=int(keep.sum()),
        column_mapping={f: ",".join(cols) for f, cols in sources.items()},
        skipped=skipped,
        warnings=sorted((w for w in notes.items if w.row in kept_rows), key=lambda w: w.row),
    )
    if not keep.any():
        raise CatalogError(
            f"{path} has no usable listings: {_plural(len(skipped), 'row')} skipped "
            f"({_count_line(report.skipped_by_reason())}); check the title column or name it with --map title=COLUMN."
        )
    return LoadResult(table[keep].reset_index(drop=True), report)


def _canonical_table(
    frame: pd.DataFrame, sources: dict[str, list[str]], notes: _Notes, separator: str | None, max_description: int
) -> pd.DataFrame:
    """All canonical columns for every row (same index as ``frame``), before rows are skipped."""
    empty = pd.Series("", index=frame.index, dtype=str)
    nan = np.full(len(frame), np.nan)

    def one(name: str) -> str | None:
        return sources[name][0] if name in sources else None

    def text(name: str) -> pd.Series:
        return _cleaned(frame[one(name)]) if one(name) else empty

    numeric = {"price": _parse_price, "rating": _parse_rating, "review_count": _parse_count}
    numbers = {n: (_numbers(frame[one(n)], p, n, notes) if one(n) else nan) for n, p in numeric.items()}
    used = {c for cols in sources.values() for c in cols}
    table = pd.DataFrame(
        {
            "listing_id": _listing_ids(frame, one("listing_id"), notes),
            "title": _cut(text("title"), MAX_TITLE_CHARS, "title", notes),
            "description": _cut(text("description"), max_description, "description", notes),
            "category_path": pd.Series(
                _category_paths(frame, sources.get("category_path", []), separator), index=frame.index, dtype=object
            ),
            "brand": text("brand"),
            "price": numbers["price"],
            "rating": numbers["rating"],
            "review_count": numbers["review_count"],
            "url": frame[one("url")].str.strip() if one("url") else empty,
            "extra": _extra_json(frame, [c for c in frame.columns if c not in used]),
        },
        index=frame.index,
    )
    return table.astype({c: str for c in ("listing_id", "title", "description", "brand", "url", "extra")})
