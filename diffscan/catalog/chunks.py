"""A catalog file as chunks of canonical listings, so memory does not grow with the file.

`iter_catalog` is the one load path: `table.load_catalog` is these chunks collected. Each raw chunk of
`readers.RawReader` (one reader per format, within `LoadLimits`) goes through the same column mapping,
parsing and skip rules (`canonical`); only what spans chunks lives here: duplicate ids across chunks,
row counts and the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import pandas as pd

from diffscan.catalog.canonical import Notes, canonical_table, skips
from diffscan.catalog.limits import LOAD_LIMITS, LoadLimits
from diffscan.catalog.mapping import resolve_mapping
from diffscan.catalog.readers import (
    DEFAULT_CHUNK_ROWS,
    HEAD_BYTES,
    RawChunk,
    RawReader,
    compression_of,
    no_rows_error,
    read_start,
)
from diffscan.catalog.report import LoadReport, RowWarning, SkippedRow, count_line, name_list, plural
from diffscan.catalog.sniff import format_from_name, sniff_binary_format, sniff_text_format
from diffscan.errors import CatalogError, MappingError

__all__ = ["DEFAULT_CHUNK_ROWS", "STREAM_MIN_BYTES", "CatalogChunks", "can_stream", "iter_catalog"]

# Files smaller than this are built from one load_catalog: streaming buys nothing for them.
STREAM_MIN_BYTES = 64 * 2**20

FORMULA_TITLE = "title is a formula without a saved value"
_MAP_TITLE = "map the title field to a column (title=COLUMN) in the column mapping"
_SAVE_VALUES = ("open the workbook in Excel or LibreOffice and save it so formulas keep their values, "
                "or export it as CSV")


def can_stream(path: str | PathLike) -> bool:
    """Whether the file's format is read in parts (CSV, TSV, JSON Lines, and uncompressed Parquet or
    XLSX); a JSON array, or a compressed Parquet/XLSX file, is read whole first."""
    path = Path(path)
    try:
        fmt = format_from_name(path)
        head = read_start(path, HEAD_BYTES) if path.is_file() else b""
    except CatalogError:
        return False
    fmt = fmt or sniff_binary_format(head)
    if fmt in ("parquet", "xlsx"):
        return path.is_file() and compression_of(path) is None
    if fmt is None:
        fmt = sniff_text_format(head[:65536].decode("utf-8", errors="replace"))
        return fmt in (None, "jsonl")
    return fmt in ("csv", "tsv", "jsonl")


class CatalogChunks:
    """Canonical listing chunks of one catalog file; `report` is complete once iteration ends.

    Each chunk is a DataFrame with the columns of `load_catalog`'s listings, indexed from 0 within the
    chunk. Raises CatalogError/MappingError as `load_catalog` does, LimitError past ``limits``.
    """

    def __init__(self, path: str | PathLike, mapping: dict[str, str] | None = None, *,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, category_separator: str | None = None,
                 max_description_chars: int = 5000, limits: LoadLimits = LOAD_LIMITS) -> None:
        if max_description_chars < 1:
            raise ValueError("max_description_chars must be at least 1")
        self.path = Path(path)
        self.mapping = mapping
        self.chunk_rows = max(1, int(chunk_rows))
        self.category_separator = category_separator
        self.max_description_chars = max_description_chars
        self.limits = limits
        self.report: LoadReport | None = None
        self.format = ""
        self.encoding: str | None = None

    def __iter__(self) -> Iterator[pd.DataFrame]:
        reader = RawReader(self.path, self.limits, self.chunk_rows)
        sources: dict[str, list[str]] | None = None
        columns: list[str] = []
        pending: list[RawChunk] = []  # JSON Lines chunks read before a line brought the title's key
        tally = _Tally()
        rows_read = data_rows = 0
        for chunk in reader:
            tally.skipped.extend(SkippedRow(r, "", reason) for r, reason in chunk.bad_rows)
            rows_read += len(chunk.frame) + len(chunk.bad_rows)
            if not len(chunk.frame):
                continue
            data_rows += len(chunk.frame)
            if sources is None:
                found = self._sources(list(chunk.frame.columns), final=reader.format != "jsonl")
                if found is None:
                    pending.append(chunk)
                    continue
                sources, columns = found, list(chunk.frame.columns)
            for part in [*pending, chunk]:  # pending lines lack the title's key, as in a whole-file load
                kept = tally.listings(part, sources, columns, self)
                if len(kept):
                    yield kept
            pending.clear()
        if pending:  # no line brought the title's key: the no-title (or mapping) error
            self._sources(reader.columns, final=True)
        skipped, warned, used = tally.skipped, tally.warned, tally.used
        self.format, self.encoding = reader.format, reader.encoding
        if data_rows == 0:
            raise no_rows_error(self.path, reader.format, reader.columns, [(s.row, s.reason) for s in skipped])
        skipped.sort(key=lambda s: s.row)
        self.report = LoadReport(
            path=str(self.path), format=self.format, encoding=self.encoding, rows_read=rows_read, rows_used=used,
            column_mapping={f: ",".join(cols) for f, cols in (sources or {}).items()},
            skipped=skipped, warnings=sorted(warned, key=lambda w: w.row),
        )
        if used == 0:
            by_reason = self.report.skipped_by_reason()
            formulas = FORMULA_TITLE in by_reason
            raise CatalogError(
                f"{self.path} has no usable listings: {plural(len(skipped), 'row')} skipped "
                f"({count_line(by_reason)}); {_SAVE_VALUES if formulas else 'check the title column or ' + _MAP_TITLE}.",
                parameter=None if formulas else "mapping",
            )

    def _sources(self, columns: list[str], final: bool) -> dict[str, list[str]] | None:
        """The column mapping for ``columns``; None while a later JSON Lines line may still bring the
        title's (or a mapped) column, else MappingError or the no-title CatalogError."""
        try:
            sources = resolve_mapping(columns, self.mapping, str(self.path))
        except MappingError:
            if final:
                raise
            return None
        if "title" in sources:
            return sources
        if not final:
            return None
        raise CatalogError(f"{self.path} has no title column (columns found: {name_list(columns)}); {_MAP_TITLE}.",
                           parameter="mapping")


class _Tally:
    """What spans chunks: ids kept so far (for duplicates), skipped rows, warnings of used rows."""

    def __init__(self) -> None:
        self.first_row_of: dict[str, int] = {}
        self.skipped: list[SkippedRow] = []
        self.warned: list[RowWarning] = []
        self.used = 0

    def listings(self, chunk: RawChunk, sources: dict[str, list[str]], columns: list[str],
                 options: CatalogChunks) -> pd.DataFrame:
        """The chunk's canonical listings that are used (indexed from 0), its skips and warnings tallied."""
        frame = chunk.frame
        for column in columns:  # JSON Lines records may lack keys the first chunk had
            if column not in frame.columns:
                frame[column] = ""
        frame.index.name = "row"
        notes = Notes()
        notes.items.extend(chunk.warnings)
        table = canonical_table(frame, sources, notes, options.category_separator, options.max_description_chars,
                                options.limits.max_cell_chars)
        reasons = self._reasons(frame, table)
        if chunk.formulas:
            title = sources["title"][0]
            formula = frame.index.map(lambda r: (r, title) in chunk.formulas).to_numpy(dtype=bool)
            reasons[formula & reasons.isin(["blank row", "empty title"]).to_numpy()] = FORMULA_TITLE
        keep = (reasons == "").to_numpy()
        for row, reason in reasons[~keep].items():
            lid = "" if reason == "blank row" else table.at[row, "listing_id"]
            self.skipped.append(SkippedRow(int(row), lid, reason))
        kept = table[keep]
        self.first_row_of.update(zip(kept["listing_id"], kept.index))
        kept_rows = set(kept.index)
        self.warned.extend(w for w in notes.items if w.row in kept_rows)
        self.used += len(kept)
        return kept.reset_index(drop=True)

    def _reasons(self, frame: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
        """`skips` of the chunk, with ids kept in an earlier chunk named as the duplicates' first row."""
        reasons = skips(frame, table["title"], table["listing_id"])
        earlier = table["listing_id"].map(self.first_row_of)  # NaN unless kept in an earlier chunk
        repeat = ((reasons == "") | reasons.str.startswith("duplicate listing_id")) & earlier.notna()
        if repeat.any():
            reasons[repeat] = [f"duplicate listing_id (first at row {int(r)})" for r in earlier[repeat]]
        return reasons


def iter_catalog(path: str | PathLike, mapping: dict[str, str] | None = None, *,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS, limits: LoadLimits = LOAD_LIMITS, **options) -> CatalogChunks:
    """Chunks of canonical listings of a catalog file (see CatalogChunks); ``options`` are
    ``category_separator`` and ``max_description_chars`` as for `load_catalog`."""
    return CatalogChunks(path, mapping, chunk_rows=chunk_rows, limits=limits, **options)
