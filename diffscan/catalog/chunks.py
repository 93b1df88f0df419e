"""Read a catalog file in chunks of canonical listings, so memory does not grow with the file.

`table.load_catalog` reads a whole file into pandas, which is right for the catalogs people open in a
spreadsheet and wrong for a marketplace dump of millions of rows. `iter_catalog` gives the same
listings and the same LoadReport in chunks: CSV/TSV and JSON Lines are parsed incrementally (also when
gzip/bz2/xz-compressed), Parquet by row batch; JSON arrays and XLSX cannot be streamed and are loaded
whole, then handed out in chunks.

Row cleaning is the package's own: every chunk goes through the same column mapping, parsing and skip
rules (`table.canonical_table`, `table.skips`), the same decompression (`readers.open_binary`) and the same
JSON Lines loop (`readers.jsonl_lines`), so a streamed build equals a normal one. Only what spans chunks
lives here: row numbers, duplicate ids across chunks, and the report.
"""

from __future__ import annotations

import codecs
import io
import re
import warnings
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import pandas as pd

from diffscan.catalog.mapping import resolve_mapping
from diffscan.catalog.readers import (
    as_text_frame,
    clean_header,
    jsonl_lines,
    open_binary,
    parser_error_message,
    read_raw,
    records_frame,
    unique_names,
)
from diffscan.catalog.report import LoadReport, SkippedRow
from diffscan.catalog.sniff import (
    detect_encoding,
    format_from_name,
    guess_delimiter,
    guess_legacy_encoding,
    sniff_binary_format,
    sniff_text_format,
)
from diffscan.catalog.table import Notes, canonical_table, load_catalog, skips
from diffscan.errors import CatalogError

DEFAULT_CHUNK_ROWS = 50_000
# Files smaller than this are loaded whole (load_catalog): streaming buys nothing for them.
STREAM_MIN_BYTES = 64 * 2**20
_HEAD_BYTES = 1 << 20


def _head(path: Path) -> bytes:
    """The first MB of the (decompressed) file, cut at the last newline so no character is split."""
    with open_binary(path) as f:
        head = f.read(_HEAD_BYTES)
    if len(head) == _HEAD_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    return head


def _decodes_fully(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly, read 1 MB at a time."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with open_binary(path) as f:
            for block in iter(lambda: f.read(_HEAD_BYTES), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _encoding(path: Path, head: bytes, fmt: str) -> str:
    """catalog's choice on the head, confirmed on the whole file (else cp1252, else latin-1)."""
    first = detect_encoding(head, path, fmt)
    for candidate in dict.fromkeys([first, guess_legacy_encoding(head) or "cp1252", "cp1252"]):
        if candidate and _decodes_fully(path, candidate):
            return candidate
    return "latin-1"


def can_stream(path: str | PathLike) -> bool:
    """Whether the file's format is read incrementally (CSV, TSV, JSON Lines, Parquet)."""
    path = Path(path)
    try:
        fmt = format_from_name(path)
    except CatalogError:
        return False
    if fmt is None:
        head = _head(path) if path.is_file() else b""
        if sniff_binary_format(head):
            return sniff_binary_format(head) == "parquet"
        fmt = sniff_text_format(head[:65536].decode("utf-8", errors="replace"))
        return fmt in (None, "jsonl")
    if fmt == "parquet":
        with open(path, "rb") as f:
            return f.read(4) == b"PAR1"  # compressed Parquet is read whole
    return fmt in ("csv", "tsv", "jsonl")


class CatalogChunks:
    """Canonical listing chunks of one catalog file; `report` is complete once iteration ends.

    Each chunk is a DataFrame with the columns of `load_catalog`'s listings, indexed from 0 within the
    chunk. Raises CatalogError/MappingError as `load_catalog` does.
    """

    def __init__(self, path: str | PathLike, mapping: dict[str, str] | None = None, *,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, category_separator: str | None = None,
                 max_description_chars: int = 5000) -> None:
        self.path = Path(path)
        self.mapping = mapping
        self.chunk_rows = max(1, int(chunk_rows))
        self.category_separator = category_separator
        self.max_description_chars = max_description_chars
        self.report: LoadReport | None = None
        self.format = ""
        self.encoding: str | None = None

    # --- raw chunks: all-text frames indexed by the row numbers a user sees, plus parser-dropped rows
    def _raw_chunks(self) -> Iterator[tuple[pd.DataFrame, list[tuple[int, str]]]]:
        path = self.path
        if not path.is_file() or path.stat().st_size == 0 or not can_stream(path):
            yield from self._whole_file()
            return
        head = _head(path)
        fmt = format_from_name(path) or sniff_binary_format(head)
        if fmt == "parquet":
            yield from self._parquet_chunks()
            return
        self.encoding = _encoding(path, head, fmt or "csv")
        sample = head[:65536].decode(self.encoding, errors="replace").lstrip("\ufeff")
        if not sample.strip():
            load_catalog(path, self.mapping)  # raises the empty-file CatalogError
        fmt = fmt or sniff_text_format(sample)
        if fmt == "jsonl":
            yield from self._jsonl_chunks()
            return
        delimiter = "\t" if fmt == "tsv" else guess_delimiter(sample, sniff=fmt is None)
        self.format = "tsv" if delimiter == "\t" else "csv"
        yield from self._delimited_chunks(delimiter)

    def _whole_file(self) -> Iterator[tuple[pd.DataFrame, list[tuple[int, str]]]]:
        """Formats that cannot stream: load with catalog, then hand out chunks of the raw table."""
        raw = read_raw(self.path)
        self.format, self.encoding = raw.format, raw.encoding
        frame = raw.frame
        for start in range(0, max(len(frame), 1), self.chunk_rows):
            yield frame.iloc[start : start + self.chunk_rows], raw.bad_rows if start == 0 else []

    def _delimited_chunks(self, delimiter: str) -> Iterator[tuple[pd.DataFrame, list[tuple[int, str]]]]:
        bad_seen: set[int] = set()
        next_row = 2  # the header is row 1
        try:
            stream = open_binary(self.path)
            with stream, pd.read_csv(stream, sep=delimiter, dtype=str, encoding=self.encoding, na_filter=False,
                                     skip_blank_lines=False, on_bad_lines="warn", engine="c",
                                     chunksize=self.chunk_rows) as reader:
                while True:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", pd.errors.ParserWarning)
                        try:
                            frame = next(reader)
                        except StopIteration:
                            frame = None
                    bad = [(int(m.group(1)), f"wrong number of fields ({m.group(2)})")
                           for w in caught if issubclass(w.category, pd.errors.ParserWarning)
                           for m in re.finditer(r"Skipping line (\d+): ([^\n]+)", str(w.message))]
                    bad_seen.update(r for r, _ in bad)
                    if frame is None:
                        if bad:
                            yield pd.DataFrame(), bad
                        return
                    rows = []
                    while len(rows) < len(frame):
                        if next_row not in bad_seen:
                            rows.append(next_row)
                        next_row += 1
                    frame.index = pd.Index(rows)
                    yield frame, bad
        except pd.errors.EmptyDataError as exc:
            raise CatalogError(f"{self.path} is empty (only blank lines); export the catalog again.") from exc
        except (pd.errors.ParserError, ValueError, UnicodeError) as exc:
            raise CatalogError(parser_error_message(self.path, str(exc))) from exc

    def _jsonl_chunks(self) -> Iterator[tuple[pd.DataFrame, list[tuple[int, str]]]]:
        self.format = "jsonl"
        records: list[dict[str, str]] = []
        rows: list[int] = []
        bad: list[tuple[int, str]] = []
        with io.TextIOWrapper(open_binary(self.path), encoding=self.encoding, newline="\n") as f:
            for number, record in jsonl_lines(f):
                if isinstance(record, str):
                    bad.append((number, record))
                    continue
                records.append(record)
                rows.append(number)
                if len(records) == self.chunk_rows:
                    yield records_frame(records, rows), bad
                    records, rows, bad = [], [], []
        if records or bad:
            yield records_frame(records, rows), bad

    def _parquet_chunks(self) -> Iterator[tuple[pd.DataFrame, list[tuple[int, str]]]]:
        import pyarrow.parquet as pq

        self.format, self.encoding = "parquet", None
        try:
            parquet = pq.ParquetFile(self.path)
            first_row = 1
            for batch in parquet.iter_batches(batch_size=self.chunk_rows):
                frame = batch.to_pandas()
                if any(name is not None for name in frame.index.names):
                    frame = frame.reset_index()
                frame = as_text_frame(frame, first_row=first_row)
                first_row += len(frame)
                yield frame, []
        except (OSError, ValueError) as exc:
            raise CatalogError(f"could not read {self.path}: file is truncated or not a Parquet file; "
                               "export it again.") from exc

    # --- canonical chunks
    def __iter__(self) -> Iterator[pd.DataFrame]:
        sources: dict[str, list[str]] | None = None
        columns: list[str] = []
        first_row_of: dict[str, int] = {}
        skipped: list[SkippedRow] = []
        warned: list = []
        rows_read = used = 0
        for frame, bad in self._raw_chunks():
            skipped.extend(SkippedRow(r, "", reason) for r, reason in bad)
            rows_read += len(frame) + len(bad)
            if frame.empty and not len(frame.columns):
                continue
            frame.columns = unique_names([clean_header(c) for c in frame.columns])
            if sources is None:
                columns = list(frame.columns)
                sources = resolve_mapping(columns, self.mapping, str(self.path))
                if "title" not in sources:
                    raise CatalogError(
                        f"{self.path} has no title column (columns found: {', '.join(columns)}); "
                        "name it with --map title=COLUMN."
                    )
            for column in columns:  # JSON Lines records may lack keys the first chunk had
                if column not in frame.columns:
                    frame[column] = ""
            frame.index.name = "row"
            notes = Notes()
            table = canonical_table(frame, sources, notes, self.category_separator, self.max_description_chars)
            reasons = skips(frame, table["title"], table["listing_id"])
            earlier = table["listing_id"].map(first_row_of)  # NaN unless the id was kept in an earlier chunk
            repeat = (reasons == "") & earlier.notna()
            if repeat.any():
                reasons[repeat] = [f"duplicate listing_id (first at row {int(r)})" for r in earlier[repeat]]
            keep = (reasons == "").to_numpy()
            for row, reason in reasons[~keep].items():
                lid = "" if reason == "blank row" else table.at[row, "listing_id"]
                skipped.append(SkippedRow(int(row), lid, reason))
            kept = table[keep]
            first_row_of.update(zip(kept["listing_id"], kept.index))
            kept_rows = set(kept.index)
            warned.extend(w for w in notes.items if w.row in kept_rows)
            used += len(kept)
            if len(kept):
                yield kept.reset_index(drop=True)
        skipped.sort(key=lambda s: s.row)
        self.report = LoadReport(
            path=str(self.path), format=self.format, encoding=self.encoding, rows_read=rows_read, rows_used=used,
            column_mapping={f: ",".join(cols) for f, cols in (sources or {}).items()},
            skipped=skipped, warnings=sorted(warned, key=lambda w: w.row),
        )
        if used == 0:
            load_catalog(self.path, self.mapping)  # raises catalog's own message for a file with no listings
            raise CatalogError(f"{self.path} has no usable listings; check the title column or name it with "
                               "--map title=COLUMN.")


def iter_catalog(path: str | PathLike, mapping: dict[str, str] | None = None, *,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, **options) -> CatalogChunks:
    """Chunks of canonical listings of a catalog file (see CatalogChunks)."""
    return CatalogChunks(path, mapping, chunk_rows=chunk_rows, **options)
