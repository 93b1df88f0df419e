"""One reader per catalog format: the file as all-text chunks whose index holds the row numbers a user sees.

`RawReader` serves whole-file and chunked loads alike (`read_table` collects it; `chunks.CatalogChunks`
maps each chunk to listings). CSV/TSV and JSON Lines are parsed incrementally (also when
gzip/bz2/xz-compressed), Parquet by row batch and XLSX row by row in openpyxl's read-only mode; a JSON
array is parsed whole and handed out in chunks. Everything is read within `LoadLimits`: decompressed
bytes are counted as they stream, zip members and Parquet metadata are checked before they are trusted.

NUL characters follow one rule in every format: they are removed from the cells that hold them, with a
warning per row and column (a file mostly of control bytes is refused as binary, see `sniff`).
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import lzma
import math
import re
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd

from diffscan.catalog.limits import (
    LOAD_LIMITS,
    RATIO_MIN_BYTES,
    LoadLimits,
    limit_error,
)
from diffscan.catalog.report import RowWarning, count_line, plural, reason_kind
from diffscan.catalog.sniff import (
    ENCODING_SAMPLE,
    EncodingSample,
    detect_encoding,
    format_from_name,
    guess_delimiter,
    sniff_binary_format,
    sniff_text_format,
)
from diffscan.errors import CatalogError, DiffscanError

# Compressed files by their magic bytes.
COMPRESSED: dict[bytes, Callable] = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
_DECOMPRESS_ERRORS = (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error)

DEFAULT_CHUNK_ROWS = 50_000
HEAD_BYTES = 1 << 20
# Encodings are guessed on a sample (`sniff.EncodingSample`: the start, then blocks from across the
# file) and confirmed on the whole file.
_BLOCK = 1 << 20

_JSON_LIST_KEYS = ("products", "items", "data", "listings", "records", "results", "rows")
NUL = "\x00"


@dataclass
class RawChunk:
    """Part of a file as an all-text table (index = row numbers as a user sees them), the rows the parser
    could not use, warnings about cells it changed, and formula cells without a saved value."""

    frame: pd.DataFrame
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    formulas: set[tuple[int, str]] = field(default_factory=set)  # (row, column)


@dataclass
class RawTable:
    """A whole file as one all-text table, plus the rows the parser dropped."""

    frame: pd.DataFrame
    format: str
    encoding: str | None
    bad_rows: list[tuple[int, str]]


def read_table(path: str | PathLike, limits: LoadLimits = LOAD_LIMITS) -> tuple[pd.DataFrame, str, str | None]:
    """Read a catalog file as an all-text table (index = row numbers as a user sees them).

    Returns the table, the format name and the text encoding (None for Parquet/XLSX). Used to preview
    columns in the UI. Raises CatalogError for unreadable files and LimitError past ``limits``.
    """
    raw = read_raw(Path(path), limits)
    return raw.frame, raw.format, raw.encoding


def read_raw(path: Path, limits: LoadLimits = LOAD_LIMITS) -> RawTable:
    """`RawReader` collected into one table; a file without data rows is a CatalogError."""
    reader = RawReader(path, limits)
    frames, bad_rows = [], []
    for chunk in reader:
        frames.append(chunk.frame)
        bad_rows.extend(chunk.bad_rows)
    frames = [f for f in frames if len(f)]
    if not frames:
        raise no_rows_error(path, reader.format, reader.columns, bad_rows)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames).fillna("")
    frame.index.name = "row"
    return RawTable(frame, reader.format, reader.encoding, sorted(bad_rows))


def no_rows_error(path: Path, fmt: str, columns: list[str], bad_rows: list[tuple[int, str]]) -> CatalogError:
    """The CatalogError for a file that yielded no data rows (header only, empty list, all rows bad)."""
    if bad_rows:
        counts = count_line(dict(Counter(reason_kind(reason) for _, reason in bad_rows).most_common()))
        return CatalogError(
            f"{path} has no usable listings: {plural(len(bad_rows), 'row')} skipped ({counts}); "
            "fix those rows or export the file again."
        )
    if columns and fmt in ("csv", "tsv", "xlsx"):
        return CatalogError(f"{path} has a header but no data rows; add listings below the header.")
    return CatalogError(f"{path} holds no listings; add some or export the catalog again.")


# ---------------------------------------------------------------------------------------------
# Bytes: opened, decompressed and counted
# ---------------------------------------------------------------------------------------------


class _Counted(io.RawIOBase):
    """A decompressed byte stream that stops with a LimitError past ``max_bytes`` and turns
    decompression failures into one CatalogError."""

    def __init__(self, raw: BinaryIO, path: Path, limits: LoadLimits, compressed: bool) -> None:
        self._raw, self._path, self._limits, self._compressed = raw, path, limits, compressed
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            n = self._raw.readinto(buffer)
        except _DECOMPRESS_ERRORS as exc:
            if not self._compressed:
                raise CatalogError(f"could not read {self._path}: {exc}; check the file.") from exc
            raise CatalogError(
                f"could not decompress {self._path}: the file is truncated or corrupt; compress it again."
            ) from exc
        self.total += n or 0
        if self.total > self._limits.max_bytes:
            what = "is too large once decompressed" if self._compressed else "is too large"
            raise limit_error(self._path, what,
                              "max_bytes", self._limits, "split the catalog into smaller files")
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def check_file(path: Path) -> None:
    """CatalogError for a path that is missing, a folder or an empty file."""
    if not path.exists():
        raise CatalogError(f"Catalog file not found: {path}; check the path.")
    if path.is_dir():
        raise CatalogError(f"{path} is a folder, not a catalog file; give the path of the file inside it.")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CatalogError(f"could not read {path}: {exc.strerror or exc}; check the file's permissions.") from exc
    if size == 0:
        raise CatalogError(f"{path} is empty (0 bytes); export the catalog again.")


def compression_of(path: Path) -> Callable | None:
    """The opener of the file's compression (gzip/bz2/xz by magic bytes), or None."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise CatalogError(f"could not read {path}: {exc.strerror or exc}; check the file's permissions.") from exc
    return next((opener for prefix, opener in COMPRESSED.items() if magic.startswith(prefix)), None)


def open_counted(path: Path, limits: LoadLimits = LOAD_LIMITS) -> io.BufferedReader:
    """The file as a buffered binary stream, decompressed when compressed, counted against max_bytes."""
    opener = compression_of(path)
    raw = opener(path, "rb") if opener else open(path, "rb")
    return io.BufferedReader(_Counted(raw, path, limits, opener is not None), buffer_size=_BLOCK)


def read_start(path: Path, size: int, limits: LoadLimits = LOAD_LIMITS) -> bytes:
    """The first ``size`` decompressed bytes; the whole file when it is shorter."""
    with open_counted(path, limits) as f:
        return f.read(size)


def read_all(path: Path, limits: LoadLimits) -> bytes:
    """The whole decompressed file, never more than max_bytes."""
    with open_counted(path, limits) as f:
        return f.read()


def _decodes_fully(path: Path, limits: LoadLimits) -> Callable[[str], bool]:
    """``decodes(encoding)``: whether the whole file decodes strictly, read a block at a time."""

    def decodes(encoding: str) -> bool:
        try:
            decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
            with open_counted(path, limits) as f:
                for block in iter(lambda: f.read(_BLOCK), b""):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except (UnicodeDecodeError, LookupError):
            return False
        return True

    return decodes


def spread_lines(path: Path, limits: LoadLimits, start: int, sample: EncodingSample = ENCODING_SAMPLE) -> bytes:
    """Whole lines from ``sample.blocks`` blocks past the first ``start`` bytes, for judging a legacy
    encoding where the start is ASCII: a plain file's blocks spread evenly (with seeks), else (through
    compression, or when those are all ASCII) the first blocks holding non-ASCII bytes. Memory stays
    within blocks x block_bytes."""
    if compression_of(path) is None:
        size = path.stat().st_size
        with open(path, "rb") as f:
            blocks = []
            for i in range(sample.blocks):
                f.seek(start + (size - start) * i // sample.blocks)
                blocks.append(_whole_lines(f.read(sample.block_bytes)))
        if any(_NON_ASCII.search(b) for b in blocks):
            return b"\n".join(b for b in blocks if b)
    blocks = []
    with open_counted(path, limits) as f:
        skipped = 0
        while skipped < start:  # skip the start a block at a time, never holding it
            read = len(f.read(min(_BLOCK, start - skipped)))
            skipped += read or start
        for block in iter(lambda: f.read(sample.block_bytes), b""):
            if _NON_ASCII.search(block):
                blocks.append(_whole_lines(block))
                if len(blocks) >= sample.blocks:
                    break
    return b"\n".join(b for b in blocks if b)


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _whole_lines(block: bytes) -> bytes:
    """The lines of a block that it holds whole (from its first line end to its last): where a line
    starts, a double-byte character starts too."""
    first, last = block.find(b"\n"), block.rfind(b"\n")
    return block[first + 1 : last] if 0 <= first < last else b""


# ---------------------------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------------------------


class RawReader:
    """The all-text chunks of one catalog file, any format, within ``limits``.

    ``format``, ``encoding`` and ``columns`` (the header, also when no row follows) are set once
    iteration starts. Raises CatalogError (LimitError past a limit) with one sentence.
    """

    def __init__(self, path: str | PathLike, limits: LoadLimits = LOAD_LIMITS,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self.path = Path(path)
        self.limits = limits
        self.chunk_rows = max(1, int(chunk_rows))
        self.format = ""
        self.encoding: str | None = None
        self.columns: list[str] = []
        self._rows = 0

    def __iter__(self) -> Iterator[RawChunk]:
        check_file(self.path)
        head = read_start(self.path, HEAD_BYTES, self.limits)
        if not head:
            raise CatalogError(f"{self.path} is empty once decompressed; export the catalog again.")
        fmt = format_from_name(self.path) or sniff_binary_format(head)
        if fmt == "parquet":
            self.format = "parquet"
            chunks = self._parquet()
        elif fmt == "xlsx":
            self.format = "xlsx"
            chunks = self._xlsx()
        else:
            chunks = self._text(fmt)
        for chunk in chunks:
            chunk.frame.columns = unique_names([clean_header(c) for c in chunk.frame.columns])
            chunk.warnings.extend(_strip_nuls(chunk.frame))
            yield chunk
        self.columns = unique_names([clean_header(c) for c in self.columns])

    # --- shared checks
    def _count_rows(self, n: int) -> None:
        self._rows += n
        if self._rows > self.limits.max_rows:
            raise limit_error(self.path, "has too many rows", "max_rows", self.limits,
                              "split the catalog into smaller files")

    def _check_columns(self, n: int, where: str = "") -> None:
        if n > self.limits.max_columns:
            raise limit_error(self.path, f"has {n:,} columns{where}", "max_columns", self.limits,
                              "drop the columns it does not need")

    def _seekable(self) -> Path | io.BytesIO:
        """The file itself, or its decompressed bytes when compressed (Parquet and XLSX need to seek)."""
        return io.BytesIO(read_all(self.path, self.limits)) if compression_of(self.path) else self.path

    # --- delimited text, JSON and JSON Lines
    def _text(self, fmt: str | None) -> Iterator[RawChunk]:
        path, limits = self.path, self.limits
        head_bytes = ENCODING_SAMPLE.head_bytes
        sample = read_start(path, head_bytes + 1, limits)
        whole = len(sample) <= head_bytes
        if not whole and b"\n" in sample:
            sample = sample[: sample.rindex(b"\n") + 1]  # no character split at the end
        encoding = detect_encoding(
            sample, path, fmt or "csv", None if whole else _decodes_fully(path, limits),
            None if whole else lambda: spread_lines(path, limits, len(sample), ENCODING_SAMPLE), ENCODING_SAMPLE,
        )
        self.encoding = encoding
        start = sample[:65536].decode(encoding, errors="replace").lstrip("\ufeff")
        if not start.strip():
            raise CatalogError(f"{path} is empty (only blank lines); export the catalog again.")
        if fmt is None:
            fmt = sniff_text_format(start)
        if fmt == "json":
            data = sample if whole else read_all(path, limits)
            yield from self._json(data.decode(encoding))
            return
        if fmt == "jsonl":
            self.format = "jsonl"
            with io.TextIOWrapper(open_counted(path, limits), encoding=encoding, newline="\n") as lines:
                yield from self._jsonl(lines)
            return
        delimiter = "\t" if fmt == "tsv" else guess_delimiter(start, sniff=fmt is None)
        self.format = "tsv" if delimiter == "\t" else "csv"
        self._check_columns(start.split("\n", 1)[0].count(delimiter) + 1)  # before a huge header is parsed
        yield from self._delimited(delimiter, encoding)

    def _delimited(self, delimiter: str, encoding: str) -> Iterator[RawChunk]:
        """CSV/TSV in chunks; rows with too many fields are bad rows, numbered as a user sees them."""
        bad_seen: set[int] = set()
        next_row = 2  # the header is row 1
        try:
            with open_counted(self.path, self.limits) as stream, pd.read_csv(
                stream, sep=delimiter, dtype=str, encoding=encoding, na_filter=False, skip_blank_lines=False,
                on_bad_lines="warn", engine="c", chunksize=self.chunk_rows,
            ) as reader:
                while True:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", pd.errors.ParserWarning)
                        frame = next(reader, None)
                    bad = [(int(m.group(1)), f"wrong number of fields ({m.group(2)})")
                           for w in caught if issubclass(w.category, pd.errors.ParserWarning)
                           for m in re.finditer(r"Skipping line (\d+): ([^\n]+)", str(w.message))]
                    bad_seen.update(r for r, _ in bad)
                    if frame is None:
                        if bad:
                            self._count_rows(len(bad))
                            yield RawChunk(pd.DataFrame(), bad)
                        return
                    if not self.columns:
                        self._check_columns(len(frame.columns))
                        self.columns = [str(c) for c in frame.columns]
                    self._count_rows(len(frame) + len(bad))
                    rows = []
                    while len(rows) < len(frame):
                        if next_row not in bad_seen:
                            rows.append(next_row)
                        next_row += 1
                    frame.index = pd.Index(rows)
                    yield RawChunk(frame, bad)
        except pd.errors.EmptyDataError as exc:
            raise CatalogError(f"{self.path} is empty (only blank lines); export the catalog again.") from exc
        except (pd.errors.ParserError, ValueError, UnicodeError) as exc:
            raise CatalogError(parser_error_message(self.path, str(exc))) from exc

    def _json(self, text: str) -> Iterator[RawChunk]:
        """A JSON array of objects, or an object holding one under a key like "products"; a .json file
        that holds JSON Lines is read as JSON Lines."""
        self.format = "json"
        if NUL in text:  # raw NULs are invalid JSON: escaped, they become characters the NUL rule removes
            text = text.replace(NUL, "\\u0000")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg == "Extra data" and sniff_text_format(text[:65536]) == "jsonl":
                self.format = "jsonl"
                yield from self._jsonl(text.split("\n"))
                return
            raise CatalogError(
                f"{self.path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                "fix the file or export it again."
            ) from exc
        except RecursionError:
            raise self._too_deep() from None
        records = _json_records(document, self.path)
        self._count_rows(len(records))
        flat, rows, bad = [], [], []
        for number, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                raise CatalogError(
                    f"item {number} in {self.path} is not a JSON object; each listing must be an object of fields."
                )
            try:
                flat.append(flatten(record, self.limits.max_json_depth))
                rows.append(number)
            except _TooDeep:
                bad.append((number, self._too_deep_reason()))
        columns = list(dict.fromkeys(k for record in flat for k in record))
        self._check_columns(len(columns))
        frame = records_frame(flat, rows, columns)
        self.columns = columns
        for start in range(0, max(len(frame), 1), self.chunk_rows):
            yield RawChunk(frame.iloc[start : start + self.chunk_rows], bad if start == 0 else [])

    def _jsonl(self, lines: Iterable[str]) -> Iterator[RawChunk]:
        """JSON Lines in chunks; a malformed or too deeply nested line is a skipped row (by line number)."""
        columns: dict[str, None] = {}
        records: list[dict[str, str]] = []
        rows: list[int] = []
        bad: list[tuple[int, str]] = []
        for number, record in jsonl_lines(lines, self.limits.max_json_depth):
            self._count_rows(1)
            if isinstance(record, str):
                bad.append((number, record))
                continue
            if not record.keys() <= columns.keys():
                columns.update(dict.fromkeys(record))
                self._check_columns(len(columns))
            records.append(record)
            rows.append(number)
            if len(records) == self.chunk_rows:
                self.columns = list(columns)
                yield RawChunk(records_frame(records, rows, self.columns), bad)
                records, rows, bad = [], [], []
        self.columns = list(columns)
        if records or bad:
            yield RawChunk(records_frame(records, rows, self.columns), bad)

    def _too_deep_reason(self) -> str:
        return f"nested deeper than {self.limits.max_json_depth:,} levels"

    def _too_deep(self) -> CatalogError:
        return limit_error(self.path, "holds JSON nested too deep", "max_json_depth", self.limits,
                           "flatten the listings")

    # --- Parquet
    def _parquet(self) -> Iterator[RawChunk]:
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self._seekable())
            meta = parquet.metadata
            unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            names = parquet.schema_arrow.names
        except DiffscanError:
            raise
        except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
            raise self._bad_parquet() from exc
        self._check_columns(len(names))
        self.columns = [str(n) for n in names]
        if meta.num_rows > self.limits.max_rows:
            self._count_rows(meta.num_rows)
        if unpacked > self.limits.max_bytes:
            raise limit_error(self.path, f"unpacks to {unpacked:,} bytes of data", "max_bytes", self.limits,
                              "split the catalog into smaller files")
        first_row = 1
        try:
            for batch in parquet.iter_batches(batch_size=self.chunk_rows):
                frame = batch.to_pandas()
                if any(name is not None for name in frame.index.names):
                    frame = frame.reset_index()  # a named index (e.g. written by df.set_index("id")) is data
                frame = as_text_frame(frame, first_row=first_row)
                first_row += len(frame)
                self._count_rows(len(frame))
                yield RawChunk(frame)
        except DiffscanError:
            raise
        except Exception as exc:
            raise self._bad_parquet() from exc

    def _bad_parquet(self) -> CatalogError:
        return CatalogError(f"could not read {self.path}: file is truncated or not a Parquet file; export it again.")

    # --- XLSX
    def _xlsx(self) -> Iterator[RawChunk]:
        """The first sheet, row by row in read-only mode; the header is row 1."""
        source = self._seekable()
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise self._bad_xlsx() from exc
        with archive:
            self._check_zip(archive)
            try:
                yield from self._xlsx_rows(source, archive)
            except DiffscanError:
                raise
            except Exception as exc:  # openpyxl/zipfile/lxml raise many types for corrupt workbooks
                raise self._bad_xlsx() from exc

    def _bad_xlsx(self) -> CatalogError:
        return CatalogError(f"could not read {self.path}: file is truncated or not an Excel .xlsx file; "
                            "open it in Excel and save it again.")

    def _check_zip(self, archive: zipfile.ZipFile) -> None:
        """Before anything is unpacked: the members' declared sizes (which bound what unzipping yields)
        against max_bytes, and each large member's compression ratio against a zip bomb's."""
        members = archive.infolist()
        unpacked = sum(m.file_size for m in members)
        if unpacked > self.limits.max_bytes:
            raise limit_error(self.path, f"unpacks to {unpacked:,} bytes", "max_bytes", self.limits,
                              "split the workbook")
        ratio = self.limits.max_compression_ratio
        for m in members:
            if m.file_size >= RATIO_MIN_BYTES and m.file_size > ratio * max(m.compress_size, 1):
                raise limit_error(
                    self.path,
                    f"has a part ({m.filename}) that unpacks to {m.file_size / max(m.compress_size, 1):,.0f} times "
                    "its packed size, as zip bombs do", "max_compression_ratio", self.limits,
                    "save the workbook again in Excel")

    def _xlsx_rows(self, source: Path | io.BytesIO, archive: zipfile.ZipFile) -> Iterator[RawChunk]:
        import openpyxl

        if isinstance(source, io.BytesIO):
            source.seek(0)
        book = openpyxl.load_workbook(source, read_only=True, data_only=True, keep_links=False)
        try:
            if not book.worksheets:
                return
            sheet = book.worksheets[0]
            self._check_dimension(sheet)
            member = getattr(sheet, "_worksheet_path", None)
            formulas = formula_cells(archive, member) if member in archive.namelist() else {}
            sheet.reset_dimensions()  # a declared dimension may be wrong: read the real extent
            yield from self._sheet_chunks(sheet.iter_rows(), formulas)
        finally:
            book.close()

    def _check_dimension(self, sheet) -> None:
        """The dimension the sheet declares, checked before any row is read."""
        rows, columns = sheet.max_row, sheet.max_column
        if not rows or not columns:
            return
        ref = f"A1:{_column_letter(columns)}{rows}"
        found = f"declares a first sheet of {rows:,} rows by {columns:,} columns ({ref})"
        fix = "delete the unused rows and columns in Excel and save it"
        for name, value in (("max_columns", columns), ("max_rows", rows - 1), ("max_sheet_cells", rows * columns)):
            if value > getattr(self.limits, name):
                raise limit_error(self.path, found, name, self.limits, fix)

    def _sheet_chunks(self, sheet_rows: Iterator, formulas: dict[int, set[int]]) -> Iterator[RawChunk]:
        """Rows of cells to chunks, as pandas.read_excel shapes them: trailing empty cells and trailing
        blank rows dropped, the header padded with ``Unnamed: <i>`` to the widest row."""
        header: list[str] | None = None
        width = 0
        blank: list[int] = []  # blank rows kept until a row with data follows
        rows: list[list[str]] = []
        numbers: list[int] = []
        notes: list[RowWarning] = []
        found: set[tuple[int, str]] = set()

        def name(i: int) -> str:
            return header[i] if header is not None and i < len(header) else f"Unnamed: {i}"

        def chunk() -> RawChunk:
            columns = [name(i) for i in range(width)]
            frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=columns, dtype=str)
            frame.index = pd.Index(numbers)
            return RawChunk(frame, [], list(notes), set(found))

        for number, cells in enumerate(sheet_rows, start=1):
            end = len(cells)
            while end and (cells[end - 1].value is None or cells[end - 1].value == ""):
                end -= 1
            if end > self.limits.max_columns:
                self._check_columns(end, f" (row {number:,})")
            values = [_cell_text(c) for c in cells[:end]]
            if header is None:
                header = [v if v != "" else f"Unnamed: {i}" for i, v in enumerate(values)]
                width = len(header)
                self.columns = list(header)
                continue
            self._count_rows(1)
            if not values:
                blank.append(number)
                continue
            for row in blank:
                rows.append([])
                numbers.append(row)
            blank.clear()
            width = max(width, len(values))
            rows.append(values)
            numbers.append(number)
            for column in sorted(formulas.get(number, ())):
                label = name(column - 1)
                notes.append(RowWarning(number, label, f"{label} is a formula without a saved value (open the "
                                                       "workbook in Excel or LibreOffice and save it)"))
                found.add((number, label))
            if len(rows) >= self.chunk_rows:
                yield chunk()
                rows, numbers, notes, found = [], [], [], set()
        self.columns = [name(i) for i in range(width)]
        if rows or header is not None:
            yield chunk()


def _column_letter(index: int) -> str:
    """Spreadsheet column letters of a 1-based index (``16384`` -> ``XFD``)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell_text(cell) -> str:
    """A cell as pandas.read_excel(dtype=str) writes it: whole numbers without ``.0``, errors empty."""
    value = cell.value
    if value is None or cell.data_type == "e":
        return ""
    if cell.data_type == "n" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        whole = int(value)
        return str(whole) if whole == value else str(float(value))
    return str(value)


# A formula cell whose value is missing or empty: <c r="B2"><f>A1*2</f><v/></c> (what openpyxl and
# other generators write). Text results (t="str"), an empty string included, are saved values.
_FORMULA_WITHOUT_VALUE = re.compile(
    rb"<(?:\w+:)?c\b([^>]*?)(?<!/)>\s*<(?:\w+:)?f\b[^>]*?(?:/>|>[^<]*</(?:\w+:)?f>)\s*"
    rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>"
)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')
_CELL_TYPE = re.compile(rb'\bt="(\w+)"')


def formula_cells(archive: zipfile.ZipFile, member: str) -> dict[int, set[int]]:
    """Row -> column indexes (1-based) of formula cells without a saved value, from the sheet's XML,
    scanned a block at a time (only blocks holding a formula are searched)."""
    found: dict[int, set[int]] = {}
    tail = b""
    with archive.open(member) as sheet:
        for block in iter(lambda: sheet.read(4 * _BLOCK), b""):
            text = tail + block
            if b"<f" in text or b":f" in text:
                for match in _FORMULA_WITHOUT_VALUE.finditer(text):
                    attrs = match.group(1)
                    kind = _CELL_TYPE.search(attrs)
                    ref = _CELL_REF.search(attrs)
                    if ref and not (kind and kind.group(1) in (b"str", b"inlineStr")):
                        found.setdefault(int(ref.group(2)), set()).add(_column_index(ref.group(1)))
            tail = text[-65536:]  # a cell cut by the block edge is found whole in the next search
    return found


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------


def _strip_nuls(frame: pd.DataFrame) -> list[RowWarning]:
    """Remove NUL characters from every cell, with a warning per row and column that held one."""
    notes: list[RowWarning] = []
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_string_dtype(values):
            continue
        has = values.str.contains(NUL, regex=False).to_numpy(dtype=bool, na_value=False)
        if has.any():
            frame[column] = values.str.replace(NUL, "", regex=False)
            message = f"NUL characters removed from {column}"
            notes.extend(RowWarning(int(r), str(column), message) for r in frame.index[has])
    return notes


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


def jsonl_lines(lines: Iterable[str], max_depth: int = LOAD_LIMITS.max_json_depth
                ) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line number, flattened record or the reason it cannot be used) for each non-blank JSON Lines line."""
    for number, line in enumerate(lines, start=1):
        if number == 1:
            line = line.lstrip("\ufeff")
        if line.strip():
            yield number, parse_jsonl_line(line, max_depth)


def parse_jsonl_line(line: str, max_depth: int = LOAD_LIMITS.max_json_depth) -> dict[str, str] | str:
    """One JSON Lines record, flattened; or the reason it cannot be used."""
    if NUL in line:
        line = line.replace(NUL, "\\u0000")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"malformed JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return f"nested deeper than {max_depth:,} levels"
    if not isinstance(record, dict):
        return "not a JSON object"
    try:
        return flatten(record, max_depth)
    except _TooDeep:
        return f"nested deeper than {max_depth:,} levels"


class _TooDeep(Exception):
    """A JSON listing nests deeper than the limit."""


def flatten(record: dict, max_depth: int = LOAD_LIMITS.max_json_depth, prefix: str = "", depth: int = 1
            ) -> dict[str, str]:
    """Nested objects become dotted columns (``price.amount``); every value becomes text. A listing
    nested deeper than ``max_depth`` levels (objects and arrays) raises _TooDeep."""
    if depth > max_depth:
        raise _TooDeep
    flat: dict[str, str] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, max_depth, f"{name}.", depth + 1))
        else:
            if isinstance(value, (list, dict)) and _deeper_than(value, max_depth - depth):
                raise _TooDeep
            flat[name] = _to_text(value)
    return flat


def _deeper_than(value: list | dict, levels: int) -> bool:
    """Whether an array or object nests more than ``levels`` levels (itself included), without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > levels:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (list, dict)))
    return False


def records_frame(records: list[dict[str, str]], rows: list[int], columns: list[str] | None = None) -> pd.DataFrame:
    """All-text frame from flat records; fields missing from a record are empty strings."""
    # The index is given up front: a record without fields ({}) is still a row.
    index = pd.Index(rows, dtype="int64")
    frame = pd.DataFrame(records, index=index) if records else pd.DataFrame(index=index)
    if columns is not None:
        frame = frame.reindex(columns=columns, fill_value="")
    return frame.fillna("").astype(str)


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
    """Column name without BOM, NUL characters or surrounding whitespace."""
    return str(name).replace("\ufeff", "").replace(NUL, "").strip()


def unique_names(names: list[str]) -> list[str]:
    """Make column names unique by appending ``.1``, ``.2`` (as pandas does for CSV headers)."""
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        unique.append(f"{name}.{seen[name]}" if seen[name] else name)
        seen[name] += 1
    return unique


WATCH_MAX_BYTES = 10 * 2**20  # a seller's own listings, pasted one per line: thousands, not millions
WATCH_MAX_LINES = 10_000


def read_listing_lines(path: str | PathLike, max_chars: int = 500) -> list[str]:
    """Pasted listings, one per non-empty line of a text file (any encoding a catalog may have), each cut
    to `max_chars`. A file over WATCH_MAX_BYTES or WATCH_MAX_LINES lines is one sentence, not a read."""
    path = Path(path)
    check_file(path)
    data = read_start(path, WATCH_MAX_BYTES + 1)
    if len(data) > WATCH_MAX_BYTES:
        raise CatalogError(f"{path} holds more than {WATCH_MAX_BYTES >> 20} MB: a file of my listings has one "
                           "pasted listing per line; give a shorter one.")
    text = data.decode(detect_encoding(data, path, "csv"), errors="replace").replace("\x00", "")
    lines = [line.strip()[:max_chars] for line in text.splitlines() if line.strip()]
    if not lines:
        raise CatalogError(f"{path} has no listing: write one pasted listing per line.")
    if len(lines) > WATCH_MAX_LINES:
        raise CatalogError(f"{path} has {len(lines):,} lines: follow at most {WATCH_MAX_LINES:,} listings at a time.")
    return lines
